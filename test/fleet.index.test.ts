import { describe, expect, it } from 'vitest';
import type { DriverEvent } from '../domain/driver/index.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import type { LocationRecorded } from '../domain/tracking/events.ts';
import { METERS_PER_DEGREE } from '../domain/geo.ts';
import { makeFleet } from '../projections/fleet/index.ts';

const here = { lat: 38.7223, lng: -9.1393 };
const versions = new Map<string, number>();
const driverEvent = (driverId: string, type: DriverEvent['type'], data: Record<string, unknown>) => {
  const version = (versions.get(driverId) ?? 0) + 1;
  versions.set(driverId, version);
  return { type, data: { driverId, ...data }, metadata: { eventId: `${driverId}:${version}`, stream: 'drivers', position: `${version}`, key: driverId, version, recordedAtMs: 0 } } as unknown as Recorded<DriverEvent>;
};
const fix = (driverId: string, recordedAt: number, at = here) =>
  ({ type: 'LocationRecorded', data: { driverId, ...at, recordedAt }, metadata: { eventId: `l${driverId}${recordedAt}`, stream: 'driver-locations', position: '1', key: driverId, version: 1, recordedAtMs: recordedAt } }) as unknown as Recorded<LocationRecorded>;
const move = (fleet: ReturnType<typeof makeFleet>, driverId: string, recordedAt: number, at = here) => fleet.moveDriver(fix(driverId, recordedAt, at), { ...at, heading: null, speed: null });
const ids = (fleet: ReturnType<typeof makeFleet>, at = here) => fleet.nearest(at, 10, 5_000).map((c) => c.driverId).sort();

describe('fleet index: holds the drivers who can be offered a ride', () => {
  it('leaves out a driver on a ride (no filter needed to skip them) and takes them back once freed', () => {
    const fleet = makeFleet();
    for (const d of ['d1', 'd2']) {
      fleet.applyDriverEvent(driverEvent(d, 'DriverAvailabilityChanged', { available: true, at: 1 }));
      move(fleet, d, 10);
    }
    expect(ids(fleet)).toEqual(['d1', 'd2']);
    fleet.applyDriverEvent(driverEvent('d1', 'DriverAssigned', { rideId: 'r1', at: 20 }));
    expect(fleet.indexedCount()).toBe(1);
    expect(ids(fleet)).toEqual(['d2']);
    move(fleet, 'd1', 30); // a trip's points move the driver, not into the index
    expect(ids(fleet)).toEqual(['d2']);
    fleet.applyDriverEvent(driverEvent('d1', 'DriverFreed', { rideId: 'r1', at: 40 }));
    expect(ids(fleet)).toEqual(['d1', 'd2']);
    fleet.applyDriverEvent(driverEvent('d2', 'DriverAvailabilityChanged', { available: false, at: 50 }));
    expect(ids(fleet)).toEqual(['d1']);
  });

  it('answers from where drivers are now, however many moved since the last query (bulk or one by one)', () => {
    const fleet = makeFleet({ referenceLat: here.lat });
    const n = 200;
    for (let i = 0; i < n; i++) {
      fleet.applyDriverEvent(driverEvent(`m${i}`, 'DriverAvailabilityChanged', { available: true, at: 1 }));
      move(fleet, `m${i}`, 10, { lat: here.lat + i * 1e-3, lng: here.lng });
    }
    expect(fleet.nearest(here, 1, 50_000)[0]?.driverId).toBe('m0');
    // One driver moves twice between queries (few moved: one by one)…
    move(fleet, 'm150', 20, { lat: here.lat - 0.5, lng: here.lng });
    move(fleet, 'm150', 30, { lat: here.lat + 2e-5, lng: here.lng });
    expect(fleet.nearest(here, 2, 50_000).map((c) => c.driverId)).toEqual(['m0', 'm150']);
    // …then every driver moves (many: the tree is loaded again).
    for (let i = 0; i < n; i++) move(fleet, `m${i}`, 40, { lat: here.lat - i * 1e-3, lng: here.lng });
    expect(fleet.nearest({ lat: here.lat - 0.199, lng: here.lng }, 1, 50_000)[0]?.driverId).toBe('m199');
    expect(fleet.indexedCount()).toBe(n);
  });
});

describe('fleet index: moves in place and one by one keep answers exact', () => {
  it('after thousands of moves (within a leaf box, out of it, drivers leaving and coming back), nearest and forEachWithin agree with brute force', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const fleet = makeFleet({ referenceLat: here.lat });
    const n = 2_000;
    const spot = (_i: number) => ({ lat: here.lat + (rand() - 0.5) * 0.05, lng: here.lng + (rand() - 0.5) * 0.08 });
    let t = 10;
    for (let i = 0; i < n; i++) {
      fleet.applyDriverEvent(driverEvent(`w${i}`, 'DriverAvailabilityChanged', { available: true, at: 1 }));
      move(fleet, `w${i}`, t, spot(i));
    }
    expect(fleet.indexedCount()).toBe(n); // bulk-loaded
    const xs = Math.cos((here.lat * Math.PI) / 180);
    const planar = (a: { lat: number; lng: number }, b: { lat: number; lng: number }) => Math.hypot((a.lng - b.lng) * xs, a.lat - b.lat);
    for (let round = 0; round < 40; round++) {
      t += 10;
      for (let j = 0; j < 60; j++) {
        const i = Math.floor(rand() * n);
        const d = fleet.get(`w${i}`)!;
        if (j % 20 === 0) {
          // off and on again: leaves the tree, comes back
          fleet.applyDriverEvent(driverEvent(d.driverId, 'DriverAvailabilityChanged', { available: !d.available, at: t }));
          continue;
        }
        const far = j % 7 === 0;
        const p = d.position!;
        move(fleet, d.driverId, t, far ? spot(i) : { lat: p.lat + (rand() - 0.5) * 4e-4, lng: p.lng + (rand() - 0.5) * 6e-4 });
      }
      const at = spot(0);
      const free = [...fleet.all()].filter((d) => d.available && d.position);
      const want = free.map((d) => ({ id: d.driverId, m: planar(d.position!, at) })).sort((a, b) => a.m - b.m);
      const got = fleet.nearest(at, 10, 5_000);
      expect(got.map((c) => planar(c, at))).toEqual(want.slice(0, 10).map((w) => w.m));
      const within: string[] = [];
      fleet.forEachWithin(at, 300, (d) => within.push(d.driverId));
      expect(within.sort()).toEqual(want.filter((w) => w.m <= 300 / METERS_PER_DEGREE).map((w) => w.id).sort());
    }
    const counts = fleet.settleCounts();
    expect(counts.inPlace).toBeGreaterThan(0); // both paths were exercised
    expect(counts.oneByOne).toBeGreaterThan(0);
  });
});
