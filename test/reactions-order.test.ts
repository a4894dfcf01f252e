import { describe, expect, it } from 'vitest';
import { fold } from '../domain/decider.ts';
import { driverDecider } from '../domain/driver/index.ts';
import type { RideEvent } from '../domain/ride/index.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { makeDriverService } from '../src/app/drivers.ts';
import { makeRideReactions } from '../src/app/reactions.ts';
import type { RideService } from '../src/app/rides.ts';

/**
 * Two members of the reactions group may each hold events of one ride at once (Redis Streams and the
 * in-memory log share a group's work by entry, not by key), so the reaction to a ride's end can run
 * before the reaction to its acceptance. Whatever the order, the driver must end free.
 */
const T0 = Date.UTC(2026, 11, 2, 9);
const pickup = { lat: 41.15, lng: -8.61 };
const dropoff = { lat: 41.16, lng: -8.6 };

async function setUp(ending: 'completed' | 'cancelled') {
  const log = getInMemoryEventLog();
  const clock = { now: () => T0 + 60_000 };
  const drivers = makeDriverService({ log, clock, metrics: { eventsAppended: { inc() {} } } as never });
  const rides = { history: (rideId: string) => log.readKey('rides', rideId), record: async () => undefined } as unknown as RideService;
  const payments = { capture: async () => ({ ok: true }) } as never;
  const react = makeRideReactions({ payments, clock }, drivers, rides);
  const rideId = 'r_order';
  const driverId = 'd_order';
  await drivers.command(driverId, { type: 'SetAvailability', data: { driverId, available: true, at: T0 } });
  await drivers.command(driverId, { type: 'HoldOffer', data: { driverId, rideId, expiresAt: T0 + 30_000, at: T0 + 1_000 } });
  const end: RideEvent[] =
    ending === 'completed'
      ? [
          { type: 'DriverArrived', data: { rideId, driverId, detected: false, at: T0 + 10_000 } },
          { type: 'TripStarted', data: { rideId, driverId, at: T0 + 20_000 } },
          { type: 'TripCompleted', data: { rideId, driverId, distanceMeters: 1_500, durationSeconds: 300, at: T0 + 40_000 } },
        ]
      : [{ type: 'RideCancelled', data: { rideId, by: 'rider', reason: null, at: T0 + 10_000 } }];
  const recorded = (await log.append('rides', rideId, [
    { type: 'RideRequested', data: { rideId, riderId: 'u_rider', pickup, dropoff, at: T0 } },
    { type: 'RideOffered', data: { rideId, driverId, expiresAt: T0 + 30_000, distanceMeters: 500, etaSeconds: 60, round: 1, at: T0 + 1_000 } },
    { type: 'RideAccepted', data: { rideId, driverId, at: T0 + 5_000 } },
    ...end,
  ] as RideEvent[])) as Recorded<RideEvent>[];
  const accepted = recorded.find((e) => e.type === 'RideAccepted')!;
  const ended = recorded.at(-1)!;
  const driverNow = async () => fold(driverDecider, await log.readKey('drivers', driverId));
  const driverEvents = async () => (await log.readKey('drivers', driverId)).map((d) => d.type);
  return { react, accepted, ended, driverNow, driverEvents };
}

describe('the reactions leave the driver free whatever order a ride’s events are handled in', () => {
  for (const ending of ['completed', 'cancelled'] as const) {
    it(`the end (${ending}) handled before the acceptance: the driver is not left on the ride`, async () => {
      const { react, accepted, ended, driverNow, driverEvents } = await setUp(ending);
      await react(ended);
      await react(accepted);
      expect((await driverNow()).rideId).toBeNull();
      // The driver's stream still tells the trip, once: assigned, then freed.
      expect((await driverEvents()).filter((t) => t === 'DriverAssigned' || t === 'DriverFreed')).toEqual(['DriverAssigned', 'DriverFreed']);
      await react(accepted); // redelivered
      expect((await driverEvents()).filter((t) => t === 'DriverAssigned' || t === 'DriverFreed')).toEqual(['DriverAssigned', 'DriverFreed']);
    });

    it(`in log order (${ending}), and with the acceptance redelivered after the end: the driver is free`, async () => {
      const { react, accepted, ended, driverNow, driverEvents } = await setUp(ending);
      await react(accepted);
      await react(ended);
      expect((await driverNow()).rideId).toBeNull();
      await react(accepted);
      expect((await driverNow()).rideId).toBeNull();
      expect((await driverEvents()).filter((t) => t === 'DriverAssigned' || t === 'DriverFreed')).toEqual(['DriverAssigned', 'DriverFreed']);
    });
  }

  it('a ride under way keeps its driver assigned', async () => {
    const log = getInMemoryEventLog();
    const clock = { now: () => T0 + 60_000 };
    const drivers = makeDriverService({ log, clock, metrics: { eventsAppended: { inc() {} } } as never });
    const rides = { history: (rideId: string) => log.readKey('rides', rideId) } as unknown as RideService;
    const react = makeRideReactions({ payments: {} as never, clock }, drivers, rides);
    await drivers.command('d_1', { type: 'SetAvailability', data: { driverId: 'd_1', available: true, at: T0 } });
    const [, , accepted] = (await log.append('rides', 'r_1', [
      { type: 'RideRequested', data: { rideId: 'r_1', riderId: 'u_rider', pickup, dropoff, at: T0 } },
      { type: 'RideOffered', data: { rideId: 'r_1', driverId: 'd_1', expiresAt: T0 + 30_000, distanceMeters: 500, etaSeconds: 60, round: 1, at: T0 + 1_000 } },
      { type: 'RideAccepted', data: { rideId: 'r_1', driverId: 'd_1', at: T0 + 5_000 } },
    ] as RideEvent[])) as Recorded<RideEvent>[];
    await react(accepted!);
    expect(fold(driverDecider, await log.readKey('drivers', 'd_1')).rideId).toBe('r_1');
  });
});
