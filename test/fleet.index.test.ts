import { describe, expect, it } from 'vitest';
import type { DriverEvent } from '../domain/driver/index.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import type { LocationRecorded } from '../domain/tracking/events.ts';
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
