import { describe, expect, it } from 'vitest';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { getInMemoryReadModel } from '../adapters/memory/read-model.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import type { RideEvent } from '../domain/ride/index.ts';
import { makeRideProjector } from '../projections/rides/projector.ts';

const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
const rideId = 'r_1';
const story: RideEvent[] = [
  { type: 'RideRequested', data: { rideId, riderId: 'u_1', pickup: { lat: 48.85, lng: 2.35 }, dropoff: { lat: 48.87, lng: 2.29 }, at: T0 } },
  { type: 'RideOffered', data: { rideId, driverId: 'd_1', expiresAt: T0 + 15_000, distanceMeters: 800, etaSeconds: 120, round: 1, at: T0 + 1_000 } },
  { type: 'RideAccepted', data: { rideId, driverId: 'd_1', at: T0 + 2_000 } },
  { type: 'TripStarted', data: { rideId, driverId: 'd_1', at: T0 + 3_000 } },
  { type: 'TripCompleted', data: { rideId, driverId: 'd_1', distanceMeters: 4_200, durationSeconds: 900, at: T0 + 4_000 } },
  { type: 'FareCalculated', data: { rideId, amount: 14.3, currency: 'EUR', distanceMeters: 4_200, durationSeconds: 900, at: T0 + 4_000 } },
  { type: 'PaymentCaptured', data: { rideId, paymentId: 'p_1', amount: 14.3, currency: 'EUR', at: T0 + 5_000 } },
];

async function logged() {
  const log = getInMemoryEventLog();
  const events = (await log.append('rides', rideId, story, { expectedVersion: 0 })) as Recorded<RideEvent>[];
  return { events, history: async (id: string) => (await log.readKey('rides', id)) as Recorded<RideEvent>[] };
}

describe('the rides projector folds each ride as the decider does', () => {
  it('a version that overtakes an earlier one (two members of a group) is mended from the log, not folded over the gap', async () => {
    const { events, history } = await logged();
    const rm = getInMemoryReadModel();
    let stale = 0;
    const projector = makeRideProjector(rm, () => void stale++, history);
    // Member A has the fare (v6) in hand while member B delivers everything else first.
    for (const i of [0, 1, 2, 3, 4, 6, 5]) await projector.onRideEvent(events[i]!);
    const doc = await rm.get(rideId);
    expect(doc).toMatchObject({ status: 'completed', version: 7, fare: { amount: 14.3, currency: 'EUR' }, payment: 'captured' });
    expect(stale).toBe(1); // the fare, when it finally arrives: already folded from the log
  });

  it('a ride whose request another member still holds is folded from the log', async () => {
    const { events, history } = await logged();
    const rm = getInMemoryReadModel();
    const projector = makeRideProjector(rm, () => undefined, history);
    await projector.onRideEvent(events[2]!);
    expect(await rm.get(rideId)).toMatchObject({ status: 'completed', driverId: 'd_1', version: 7 });
  });

  it('redeliveries change nothing', async () => {
    const { events, history } = await logged();
    const rm = getInMemoryReadModel();
    let stale = 0;
    const projector = makeRideProjector(rm, () => void stale++, history);
    for (const e of [...events, ...events]) await projector.onRideEvent(e);
    expect(stale).toBe(events.length);
    expect(await rm.get(rideId)).toMatchObject({ version: 7, payment: 'captured', rating: null });
  });
});

describe('the rides projector tracks a batch of points', () => {
  it('writes the new points of every tracked ride in one call, and none for rides not being tracked or other drivers', async () => {
    const log = getInMemoryEventLog();
    const onTrip = (id: string): RideEvent[] => story.slice(0, 4).map((e) => ({ ...e, data: { ...e.data, rideId: id } }) as RideEvent);
    for (const id of ['r_a', 'r_b']) await log.append('rides', id, onTrip(id), { expectedVersion: 0 });
    await log.append('rides', 'r_c', story.slice(0, 1).map((e) => ({ ...e, data: { ...e.data, rideId: 'r_c' } }) as RideEvent), { expectedVersion: 0 });
    const rm = getInMemoryReadModel();
    const calls: string[][] = [];
    const spied = { ...rm, addTracks: async (list: Parameters<typeof rm.addTracks>[0]) => void (calls.push(list.map((t) => t.rideId)), await rm.addTracks(list)) };
    const projector = makeRideProjector(spied, () => undefined, async (id) => (await log.readKey('rides', id)) as Recorded<RideEvent>[]);
    for (const id of ['r_a', 'r_b', 'r_c']) for (const e of (await log.readKey('rides', id)) as Recorded<RideEvent>[]) await projector.onRideEvent(e);
    const point = (rideId: string, driverId: string, at: number) => ({ type: 'LocationRecorded', data: { driverId, lat: 48.86, lng: 2.34, recordedAt: at, heading: null, speed: null, accuracy: 5, rideId, late: false }, metadata: { eventId: `driver-locations:${rideId}:${at}`, stream: 'driver-locations', position: String(at), key: driverId, version: 0, recordedAtMs: at } }) as never;
    await projector.onLocations([point('r_a', 'd_1', T0 + 10), point('r_b', 'd_1', T0 + 11), point('r_a', 'd_1', T0 + 12), point('r_c', 'd_1', T0 + 13), point('r_b', 'd_9', T0 + 14)]);
    // One write for the batch: r_a's two points and r_b's one; r_c is only requested, d_9 is not r_b's driver.
    expect(calls).toEqual([['r_a', 'r_b']]);
    expect((await rm.track('r_a')).map((p) => p.recordedAt)).toEqual([T0 + 10, T0 + 12]);
    expect((await rm.track('r_b')).map((p) => p.recordedAt)).toEqual([T0 + 11]);
    expect(await rm.track('r_c')).toEqual([]);
  });
});
