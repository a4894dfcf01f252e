import { describe, expect, it } from 'vitest';
import type { Recorded } from '../../domain/ports/event-log.ts';
import { evolve, foldRide, initialState, type Ride, type RideEvent, type RideState } from '../../domain/ride/index.ts';

/**
 * The one fold every consumer reads (decider, API view, socket messages, read models, visibility):
 * after each event, the whole ride as it stands, field by field. Each step states only what the event
 * changes; everything else must be exactly as before (toStrictEqual: no field more, none less).
 */
const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
const rideId = 'r_fold';
const pickup = { lat: 48.85, lng: 2.35 };
const dropoff = { lat: 48.87, lng: 2.29 };

const requested: RideEvent = { type: 'RideRequested', data: { rideId, riderId: 'u_1', pickup, dropoff, at: T0 } };
const offered = (driverId: string, round: number, expiresAt: number): RideEvent => ({
  type: 'RideOffered',
  data: { rideId, driverId, expiresAt, distanceMeters: 700, etaSeconds: 90, round, at: T0 + 1 },
});
const declined = (driverId: string): RideEvent => ({ type: 'OfferDeclined', data: { rideId, driverId, at: T0 + 2 } });
const expired = (driverId: string): RideEvent => ({ type: 'OfferExpired', data: { rideId, driverId, at: T0 + 3 } });
const withdrawn = (driverId: string, reason: 'accepted' | 'cancelled' = 'accepted'): RideEvent => ({
  type: 'OfferWithdrawn',
  data: { rideId, driverId, reason, at: T0 + 4 },
});

const fresh: Ride = {
  status: 'requested', rideId, riderId: 'u_1', pickup, dropoff, driverId: null, offer: null, offers: [], withdrawn: [], passedBy: [],
  offerEndedFor: null, rounds: 0, requestedAt: T0, acceptedAt: null, arrivedAt: null, startedAt: null, completedAt: null, cancelledAt: null,
  distanceMeters: null, fare: null, payment: null, rating: null, version: 1,
};

/** Folds `events` and checks the ride after each against `steps` (each the change from the one before). */
function expectSteps(events: RideEvent[], steps: Partial<Ride>[]): Ride {
  let state: RideState = initialState();
  let expected: Ride = fresh;
  events.forEach((event, i) => {
    state = evolve(state, event);
    expected = { ...expected, offerEndedFor: null, ...steps[i], version: i + 1 };
    expect({ i, type: event.type, ride: state }).toStrictEqual({ i, type: event.type, ride: expected });
  });
  return state as Ride;
}

describe('the ride fold, field by field', () => {
  it('nothing before the request: a ride does not exist until it is requested', () => {
    expect(initialState()).toStrictEqual({ status: 'none' });
    expect(evolve(initialState(), offered('a', 1, T0 + 15_000))).toStrictEqual({ status: 'none' });
    expect(evolve(initialState(), requested)).toStrictEqual(fresh);
  });

  it('a fanned-out round: offers join, a re-offer replaces the driver’s own, declines and expiries end one each', () => {
    const a1 = { driverId: 'a', expiresAt: T0 + 15_000 };
    const b = { driverId: 'b', expiresAt: T0 + 16_000 };
    const a2 = { driverId: 'a', expiresAt: T0 + 17_000 };
    expectSteps(
      [requested, offered('a', 1, a1.expiresAt), offered('b', 1, b.expiresAt), offered('a', 1, a2.expiresAt), declined('b'), expired('a')],
      [
        {},
        { status: 'offered', offer: a1, offers: [a1], rounds: 1 },
        { offers: [a1, b] },
        // The driver's earlier offer goes; the new one joins at the end, so the first open offer is b's.
        { offer: b, offers: [b, a2] },
        { offer: a2, offers: [a2], passedBy: ['b'], offerEndedFor: 'b' },
        { status: 'requested', offer: null, offers: [], passedBy: ['b', 'a'], offerEndedFor: 'a' },
      ],
    );
  });

  it('a withdrawal ends one offer without passing the driver; the last one withdrawn leaves the ride requested', () => {
    const c = { driverId: 'c', expiresAt: T0 + 15_000 };
    const d = { driverId: 'd', expiresAt: T0 + 15_000 };
    expectSteps(
      [requested, offered('c', 2, c.expiresAt), offered('d', 2, d.expiresAt), withdrawn('c'), withdrawn('d', 'cancelled')],
      [
        {},
        { status: 'offered', offer: c, offers: [c], rounds: 2 },
        { offers: [c, d] },
        { offer: d, offers: [d], withdrawn: ['c'], offerEndedFor: 'c' },
        { status: 'requested', offer: null, offers: [], withdrawn: ['c', 'd'], offerEndedFor: 'd' },
      ],
    );
  });

  it('the trip: accepted, arrived, started, completed, priced, paid after a failure, rated', () => {
    const a = { driverId: 'a', expiresAt: T0 + 15_000 };
    const events: RideEvent[] = [
      requested,
      offered('a', 1, a.expiresAt),
      { type: 'RideAccepted', data: { rideId, driverId: 'a', at: T0 + 10 } },
      { type: 'DriverArrived', data: { rideId, driverId: 'a', detected: false, at: T0 + 20 } },
      { type: 'TripStarted', data: { rideId, driverId: 'a', at: T0 + 30 } },
      { type: 'TripCompleted', data: { rideId, driverId: 'a', distanceMeters: 4_200, durationSeconds: 600, at: T0 + 40 } },
      { type: 'FareCalculated', data: { rideId, amount: 14.3, currency: 'EUR', distanceMeters: 4_200, durationSeconds: 600, at: T0 + 40 } },
      { type: 'PaymentFailed', data: { rideId, reason: 'card declined', at: T0 + 50 } },
      { type: 'PaymentCaptured', data: { rideId, paymentId: 'p_1', amount: 14.3, currency: 'EUR', at: T0 + 60 } },
      { type: 'RideRated', data: { rideId, stars: 4, comment: 'fine', at: T0 + 70 } },
    ];
    expectSteps(events, [
      {},
      { status: 'offered', offer: a, offers: [a], rounds: 1 },
      { status: 'accepted', offer: null, offers: [], driverId: 'a', acceptedAt: T0 + 10 },
      { status: 'arrived', arrivedAt: T0 + 20 },
      { status: 'in_progress', startedAt: T0 + 30 },
      { status: 'completed', completedAt: T0 + 40, distanceMeters: 4_200, payment: 'pending' },
      { fare: { amount: 14.3, currency: 'EUR' } },
      { payment: 'failed' },
      { payment: 'captured' },
      { rating: { stars: 4, comment: 'fine' } },
    ]);
  });

  it('cancelled while offered: the offered driver sees the cancellation as their offer’s end', () => {
    const a = { driverId: 'a', expiresAt: T0 + 15_000 };
    expectSteps(
      [requested, offered('a', 1, a.expiresAt), { type: 'RideCancelled', data: { rideId, by: 'rider', reason: 'late', at: T0 + 5 } }],
      [{}, { status: 'offered', offer: a, offers: [a], rounds: 1 }, { status: 'cancelled', offer: null, offers: [], offerEndedFor: 'a', cancelledAt: T0 + 5 }],
    );
  });

  it('cancelled or unmatched with no offer open: nobody’s offer ends', () => {
    expectSteps([requested, { type: 'RideCancelled', data: { rideId, by: 'system', reason: null, at: T0 + 5 } }], [{}, { status: 'cancelled', cancelledAt: T0 + 5 }]);
    expectSteps([requested, { type: 'RideUnmatched', data: { rideId, rounds: 0, at: T0 + 5 } }], [{}, { status: 'unmatched' }]);
  });

  it('unmatched while an offer was open (a recorded history): that driver sees the end of it', () => {
    const a = { driverId: 'a', expiresAt: T0 + 15_000 };
    expectSteps(
      [requested, offered('a', 3, a.expiresAt), { type: 'RideUnmatched', data: { rideId, rounds: 3, at: T0 + 5 } }],
      [{}, { status: 'offered', offer: a, offers: [a], rounds: 3 }, { status: 'unmatched', offer: null, offers: [], offerEndedFor: 'a' }],
    );
  });

  it('a second request on the same key starts the ride over, and the version keeps counting', () => {
    const once = evolve(evolve(initialState(), requested), offered('a', 1, T0 + 15_000));
    const again = evolve(once, { type: 'RideRequested', data: { rideId, riderId: 'u_2', pickup: dropoff, dropoff: pickup, at: T0 + 99 } });
    expect(again).toStrictEqual({ ...fresh, riderId: 'u_2', pickup: dropoff, dropoff: pickup, requestedAt: T0 + 99, version: 3 });
  });

  it('an event of a type this version does not know (a newer writer) is counted and otherwise ignored', () => {
    const unknown = { type: 'RideTeleported', data: { rideId, at: T0 + 7 } } as unknown as RideEvent;
    expect(evolve(evolve(initialState(), requested), unknown)).toStrictEqual({ ...fresh, version: 2 });
  });

  it('foldRide pairs each event with the ride it left, skipping what came before the request in a trimmed log', () => {
    const history = [offered('x', 1, T0), requested, offered('a', 1, T0 + 15_000)].map((e, i) => ({
      ...e,
      metadata: { eventId: `rides:${i + 1}-0`, stream: 'rides', position: `${i + 1}-0`, key: rideId, version: i + 1, recordedAtMs: T0 + i },
    })) as Recorded<RideEvent>[];
    const steps = foldRide(history);
    expect(steps.map((s) => s.event)).toStrictEqual(history.slice(1));
    expect(steps.map((s) => [s.ride.status, s.ride.version])).toStrictEqual([
      ['requested', 1],
      ['offered', 2],
    ]);
    expect(foldRide([])).toStrictEqual([]);
  });
});
