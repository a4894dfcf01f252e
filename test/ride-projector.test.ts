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
