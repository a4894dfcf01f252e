import { describe, expect, it } from 'vitest';
import type { DriverEvent } from '../domain/driver/index.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import type { LocationRecorded } from '../domain/tracking/events.ts';
import { makeFleet } from '../projections/fleet/index.ts';

const at = { lat: 38.7223, lng: -9.1393 };
let version = 0;
const driverEvent = (type: DriverEvent['type'], data: Record<string, unknown>) =>
  ({ type, data: { driverId: 'd1', ...data }, metadata: { eventId: `e${++version}`, stream: 'drivers', position: `${version}`, key: 'd1', version, recordedAtMs: 0 } }) as unknown as Recorded<DriverEvent>;
const fix = (recordedAt: number) =>
  ({ type: 'LocationRecorded', data: { driverId: 'd1', ...at, recordedAt }, metadata: { eventId: `l${recordedAt}`, stream: 'driver-locations', position: '1', key: 'd1', version: 1, recordedAtMs: recordedAt } }) as unknown as Recorded<LocationRecorded>;

describe('fleet projection: what fairness needs', () => {
  it('knows since when a driver is idle: from going online, not while on a ride, again from being freed', () => {
    const fleet = makeFleet();
    fleet.applyDriverEvent(driverEvent('DriverAvailabilityChanged', { available: true, at: 1_000 }));
    fleet.moveDriver(fix(1_500), { ...at, heading: null, speed: null });
    expect(fleet.nearest(at, 1, 100)[0]).toMatchObject({ driverId: 'd1', idleSince: 1_000 });
    fleet.applyDriverEvent(driverEvent('DriverAssigned', { rideId: 'r1', at: 2_000 }));
    expect(fleet.get('d1')?.idleSince).toBeNull();
    fleet.applyDriverEvent(driverEvent('DriverFreed', { rideId: 'r1', at: 9_000 }));
    expect(fleet.get('d1')?.idleSince).toBe(9_000);
  });

  it('remembers the latest missed offers in order, once each (a replay adds nothing), at most eight', () => {
    const fleet = makeFleet();
    for (const t of [5, 1, 3, 3]) fleet.noteMissedOffer('d1', t);
    expect(fleet.get('d1')?.missedOffersAt).toEqual([1, 3, 5]);
    for (let t = 10; t < 20; t++) fleet.noteMissedOffer('d1', t);
    expect(fleet.get('d1')?.missedOffersAt).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
  });
});
