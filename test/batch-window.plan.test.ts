import { describe, expect, it } from 'vitest';
import type { DriverEvent } from '../domain/driver/index.ts';
import { defaultFairnessRules } from '../domain/matching/dispatch.ts';
import { defaultMatchPolicy } from '../domain/matching/policy.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import type { LocationRecorded } from '../domain/tracking/events.ts';
import { straightLineEta } from '../domain/tracking/eta.ts';
import { makeFleet } from '../projections/fleet/index.ts';
import { planBatch } from '../src/app/batch-window.ts';

const NOW = 1_800_000_000_000;
const ORIGIN = { lat: 38.7223, lng: -9.1393 };
const east = (m: number) => ({ lat: ORIGIN.lat, lng: ORIGIN.lng + m / (111_195 * Math.cos((ORIGIN.lat * Math.PI) / 180)) });
let seq = 0;
const meta = (key: string, version: number) => ({ eventId: `e${++seq}`, stream: 'drivers' as const, position: `${seq}`, key, version, recordedAtMs: NOW });

/** A fleet with free drivers at the given metres east of the origin, last seen `ageMs` ago. */
function fleetOf(drivers: Record<string, { m: number; ageMs?: number }>) {
  const fleet = makeFleet({ referenceLat: ORIGIN.lat });
  for (const [driverId, { m, ageMs = 1_000 }] of Object.entries(drivers)) {
    fleet.applyDriverEvent({ type: 'DriverAvailabilityChanged', data: { driverId, available: true, at: NOW - 60_000 }, metadata: meta(driverId, 1) } as Recorded<DriverEvent>);
    const p = east(m);
    const point = { type: 'LocationRecorded', data: { driverId, ...p, recordedAt: NOW - ageMs, heading: null, speed: null, accuracy: 5, rideId: null, late: false }, metadata: { ...meta(driverId, 0), stream: 'driver-locations' as const } };
    fleet.moveDriver(point as Recorded<LocationRecorded>, { ...p, heading: null, speed: null });
  }
  return fleet;
}

const options = { policy: defaultMatchPolicy, eta: straightLineEta(), fairness: defaultFairnessRules, now: NOW };
const pairs = (matches: { rideId: string; driverId: string }[]) => Object.fromEntries(matches.map((m) => [m.rideId, m.driverId]));

describe('planBatch: one window against the fleet index', () => {
  it('solves the window as a whole over the drivers near each pickup', () => {
    const fleet = fleetOf({ d0: { m: 0 }, d600: { m: 600 } });
    const requests = [
      { rideId: 'r1', pickup: east(500), passedBy: [], windowsWaited: 0 },
      { rideId: 'r2', pickup: east(1_300), passedBy: [], windowsWaited: 0 },
    ];
    expect(pairs(planBatch(fleet, requests, options))).toEqual({ r1: 'd0', r2: 'd600' });
  });

  it('leaves out drivers who passed on the ride and drivers whose last fix is stale', () => {
    const fleet = fleetOf({ near: { m: 100 }, stale: { m: 50, ageMs: defaultMatchPolicy.freshnessMs + 1 }, far: { m: 700 } });
    expect(pairs(planBatch(fleet, [{ rideId: 'r', pickup: east(0), passedBy: ['near'], windowsWaited: 0 }], options))).toEqual({ r: 'far' });
  });

  it('searches the smallest ring holding anyone; a ride that waited starts from a wider ring', () => {
    // Rings 1, 3, 8 km: nobody within 1 km, one driver at 2 km.
    const fleet = fleetOf({ d2k: { m: 2_000 }, d9k: { m: 9_000 } });
    expect(pairs(planBatch(fleet, [{ rideId: 'r', pickup: east(0), passedBy: [], windowsWaited: 0 }], options))).toEqual({ r: 'd2k' });
    expect(planBatch(fleet, [{ rideId: 'r', pickup: east(-20_000), passedBy: [], windowsWaited: 5 }], options)).toEqual([]);
  });

  it('with offer fan-out, a ride also gets its next nearest free drivers as alternates', () => {
    const fleet = fleetOf({ a: { m: 100 }, b: { m: 200 }, c: { m: 300 } });
    const [m] = planBatch(fleet, [{ rideId: 'r', pickup: east(0), passedBy: [], windowsWaited: 0 }], { ...options, fanout: 3 });
    expect([m!.driverId, ...m!.alternates!.map((x) => x.driverId)]).toEqual(['a', 'b', 'c']);
  });

  it('an empty window or an empty fleet plans nothing', () => {
    expect(planBatch(fleetOf({}), [{ rideId: 'r', pickup: east(0), passedBy: [], windowsWaited: 0 }], options)).toEqual([]);
    expect(planBatch(fleetOf({ d: { m: 0 } }), [], options)).toEqual([]);
  });
});
