import { describe, expect, it } from 'vitest';
import type { Actor } from '../../domain/actor.ts';
import { fold } from '../../domain/decider.ts';
import { defaultTariff } from '../../domain/fare.ts';
import { rideDecider, type RideCommand, type RideEvent } from '../../domain/ride/index.ts';

/**
 * What a caller is told when the ride decider refuses: the code and status the edge maps, and the
 * message the API returns in the error body (what a rider's or driver's app shows). Plus the edges of
 * the rules the main decider suite does not reach.
 */
const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
const rideId = 'r_7';
const rider: Actor = { userId: 'u_rider', role: 'rider' };
const driver: Actor = { userId: 'd_1', role: 'driver' };
const other: Actor = { userId: 'd_2', role: 'driver' };
const admin: Actor = { userId: 'u_admin', role: 'admin' };
const pickup = { lat: 48.85, lng: 2.35 };
const dropoff = { lat: 48.87, lng: 2.29 };

const requested: RideEvent = { type: 'RideRequested', data: { rideId, riderId: rider.userId, pickup, dropoff, at: T0 } };
const offeredTo = (driverId: string, round = 1): RideEvent => ({
  type: 'RideOffered',
  data: { rideId, driverId, expiresAt: T0 + 15_000, distanceMeters: 800, etaSeconds: 120, round, at: T0 + 1_000 },
});
const offered = [requested, offeredTo(driver.userId)];
const accepted = [...offered, { type: 'RideAccepted', data: { rideId, driverId: driver.userId, at: T0 + 2_000 } } as RideEvent];
const arrived = [...accepted, { type: 'DriverArrived', data: { rideId, driverId: driver.userId, detected: false, at: T0 + 3_000 } } as RideEvent];
const inProgress = [...arrived, { type: 'TripStarted', data: { rideId, driverId: driver.userId, at: T0 + 60_000 } } as RideEvent];
const completed = [
  ...inProgress,
  { type: 'TripCompleted', data: { rideId, driverId: driver.userId, distanceMeters: 1_000, durationSeconds: 60, at: T0 + 120_000 } },
  { type: 'FareCalculated', data: { rideId, amount: 5, currency: 'EUR', distanceMeters: 1_000, durationSeconds: 60, at: T0 + 120_000 } },
] as RideEvent[];

const decide = (given: RideEvent[], command: RideCommand) => rideDecider.decide(command, fold(rideDecider, given));
const refusal = (code: string, statusCode: number, message: string) => expect.objectContaining({ name: 'DomainError', code, statusCode, message });

const cmd = {
  request: (): RideCommand => ({ type: 'RequestRide', data: { rideId, riderId: rider.userId, pickup, dropoff, at: T0 } }),
  offer: (driverId: string, fanout?: number): RideCommand => ({
    type: 'OfferRide',
    data: { rideId, driverId, expiresAt: T0 + 30_000, distanceMeters: 800, etaSeconds: 120, ...(fanout === undefined ? {} : { fanout }), at: T0 + 5_000 },
  }),
  decline: (actor: Actor): RideCommand => ({ type: 'DeclineOffer', data: { rideId, actor, at: T0 + 2_000 } }),
  accept: (actor: Actor, at = T0 + 2_000, driverOnline = true): RideCommand => ({ type: 'AcceptRide', data: { rideId, actor, driverOnline, at } }),
  arrive: (actor: Actor): RideCommand => ({ type: 'ArriveAtPickup', data: { rideId, actor, at: T0 + 3_000 } }),
  start: (actor: Actor): RideCommand => ({ type: 'StartTrip', data: { rideId, actor, at: T0 + 60_000 } }),
  complete: (actor: Actor, distanceMeters = 1_000, at = T0 + 120_000): RideCommand => ({
    type: 'CompleteTrip',
    data: { rideId, actor, distanceMeters, tariff: defaultTariff, at },
  }),
  cancel: (actor: Actor): RideCommand => ({ type: 'CancelRide', data: { rideId, actor, reason: null, at: T0 + 9_000 } }),
  unmatch: (): RideCommand => ({ type: 'MarkUnmatched', data: { rideId, at: T0 + 9_000 } }),
  capture: (): RideCommand => ({ type: 'RecordPayment', data: { rideId, outcome: { captured: true, paymentId: 'p_1', amount: 5, currency: 'EUR' }, at: T0 + 200_000 } }),
  rate: (actor: Actor, stars = 5): RideCommand => ({ type: 'RateRide', data: { rideId, actor, stars, comment: null, at: T0 + 300_000 } }),
};

describe('every refusal of the ride decider says why', () => {
  const cases: [string, RideEvent[], RideCommand, string, number, string][] = [
    ['no such ride', [], cmd.cancel(rider), 'NOT_FOUND', 404, 'ride r_7 not found'],
    ['a ride the caller may not see', offered, cmd.accept(other), 'NOT_FOUND', 404, 'ride r_7 not found'],
    ['requested twice', [requested], cmd.request(), 'RIDE_EXISTS', 409, 'ride r_7 already exists'],
    ['offering a ride that is no longer matching', accepted, cmd.offer('d_3'), 'INVALID_TRANSITION', 409, 'ride r_7 is accepted; cannot offer'],
    ['offering to a driver who passed', [...offered, { type: 'OfferDeclined', data: { rideId, driverId: driver.userId, at: T0 + 2_000 } }], cmd.offer(driver.userId), 'INVALID_TRANSITION', 409, 'driver d_1 already passed on ride r_7'],
    ['the rider declining', offered, cmd.decline(rider), 'INVALID_TRANSITION', 409, 'ride r_7 is offered; cannot decline'],
    ['the rider accepting', offered, cmd.accept(rider), 'INVALID_TRANSITION', 409, 'ride r_7 is offered; cannot accept'],
    ['accepting after expiresAt', offered, cmd.accept(driver, T0 + 15_001), 'OFFER_EXPIRED', 409, 'the offer for ride r_7 has expired'],
    ['accepting after declining', [...offered, { type: 'OfferDeclined', data: { rideId, driverId: driver.userId, at: T0 + 2_000 } }], cmd.accept(driver), 'OFFER_EXPIRED', 409, 'the offer for ride r_7 is no longer open'],
    ['accepting while offline', offered, cmd.accept(driver, T0 + 2_000, false), 'DRIVER_OFFLINE', 409, 'go online before accepting a ride'],
    ['the rider driving the trip', accepted, cmd.arrive(rider), 'FORBIDDEN', 403, 'only the assigned driver may do this'],
    ['arriving twice over a started trip', inProgress, cmd.arrive(driver), 'INVALID_TRANSITION', 409, 'ride r_7 is in_progress; cannot arrive'],
    ['starting a started trip', inProgress, cmd.start(driver), 'INVALID_TRANSITION', 409, 'ride r_7 is in_progress; cannot start'],
    ['completing before the start', arrived, cmd.complete(driver), 'INVALID_TRANSITION', 409, 'ride r_7 is arrived; cannot complete'],
    ['a negative distance', inProgress, cmd.complete(driver, -1), 'VALIDATION_ERROR', 400, 'the trip distance must be a finite, non-negative number'],
    ['the offered driver cancelling', offered, cmd.cancel(driver), 'FORBIDDEN', 403, "only the ride's rider or driver may cancel it"],
    ['cancelling a completed ride', completed, cmd.cancel(rider), 'INVALID_TRANSITION', 409, 'ride r_7 is completed; cannot cancel'],
    ['unmatching an offered ride', offered, cmd.unmatch(), 'INVALID_TRANSITION', 409, 'ride r_7 is offered; cannot mark unmatched'],
    ['paying for a trip not completed', inProgress, cmd.capture(), 'INVALID_TRANSITION', 409, 'ride r_7 is in_progress; cannot record a payment'],
    ['the driver rating', completed, cmd.rate(driver), 'FORBIDDEN', 403, "only the ride's rider may rate it"],
    ['rating before the end', inProgress, cmd.rate(rider), 'INVALID_TRANSITION', 409, 'ride r_7 is in_progress; cannot rate'],
    ['rating twice', [...completed, { type: 'RideRated', data: { rideId, stars: 4, comment: null, at: T0 + 300_000 } }], cmd.rate(rider), 'ALREADY_RATED', 409, 'ride r_7 is already rated'],
    ['six stars', completed, cmd.rate(rider, 6), 'VALIDATION_ERROR', 400, 'stars must be an integer from 1 to 5'],
  ];
  it.each(cases)('%s', (_, given, command, code, statusCode, message) => {
    expect(() => decide(given, command)).toThrow(refusal(code, statusCode, message));
  });

  it('a command of a type the decider does not know is refused loudly, not ignored', () => {
    const bogus = { type: 'TeleportRide', data: { rideId } } as unknown as RideCommand;
    expect(() => decide([requested], bogus)).toThrow('unknown command TeleportRide');
  });
});

describe('ride decider edges', () => {
  it('the trip distance: zero is a trip, anything not finite or below zero is refused', () => {
    expect(decide(inProgress, cmd.complete(driver, 0))[0]).toMatchObject({ type: 'TripCompleted', data: { distanceMeters: 0 } });
    for (const bad of [-0.001, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
      expect(() => decide(inProgress, cmd.complete(driver, bad))).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR' }));
  });

  it('a completion stamped before the start (a skewed clock) bills no time rather than negative time', () => {
    const [done, fare] = decide(inProgress, cmd.complete(driver, 1_000, T0 + 30_000));
    expect(done).toMatchObject({ type: 'TripCompleted', data: { durationSeconds: 0 } });
    // 2.50 + 1.20 × 1 km = 3.70, below the 5.00 minimum.
    expect(fare).toMatchObject({ type: 'FareCalculated', data: { durationSeconds: 0, amount: 5 } });
  });

  it('a driver whose fanned-out offer was withdrawn is not offered the ride again', () => {
    const withdrawnOne = [
      requested,
      offeredTo(driver.userId),
      offeredTo(other.userId),
      { type: 'OfferWithdrawn', data: { rideId, driverId: other.userId, reason: 'accepted', at: T0 + 1_500 } } as RideEvent,
    ];
    expect(() => decide(withdrawnOne, cmd.offer(other.userId, 3))).toThrow('driver d_2 already passed on ride r_7');
    expect(decide(withdrawnOne, cmd.offer('d_3', 3))).toStrictEqual([
      { type: 'RideOffered', data: { rideId, driverId: 'd_3', expiresAt: T0 + 30_000, distanceMeters: 800, etaSeconds: 120, round: 1, at: T0 + 5_000 } },
    ]);
  });

  it('fan-out: a driver already holding an open offer of the round is not offered it again, even with room left', () => {
    const twoOpen = [requested, offeredTo(driver.userId), offeredTo(other.userId)];
    expect(() => decide(twoOpen, cmd.offer(driver.userId, 3))).toThrow('ride r_7 is offered; cannot offer');
    expect(decide(twoOpen, cmd.offer('d_3', 3))).toHaveLength(1);
  });

  it('cancelling a fanned-out ride withdraws the other open offers as cancelled', () => {
    const twoOpen = [requested, offeredTo(driver.userId), offeredTo(other.userId)];
    expect(decide(twoOpen, cmd.cancel(rider))).toStrictEqual([
      { type: 'OfferWithdrawn', data: { rideId, driverId: other.userId, reason: 'cancelled', at: T0 + 9_000 } },
      { type: 'RideCancelled', data: { rideId, by: 'rider', reason: null, at: T0 + 9_000 } },
    ]);
  });

  it('staff may cancel a ride they are not party to, and are named as admin or system', () => {
    expect(decide(accepted, cmd.cancel(admin))).toStrictEqual([{ type: 'RideCancelled', data: { rideId, by: 'admin', reason: null, at: T0 + 9_000 } }]);
    expect(decide(accepted, cmd.cancel({ userId: 'svc', role: 'service' }))).toStrictEqual([
      { type: 'RideCancelled', data: { rideId, by: 'system', reason: null, at: T0 + 9_000 } },
    ]);
  });

  it('the assigned driver’s cancellation is named as the driver’s', () => {
    expect(decide(inProgress, cmd.cancel(driver))).toStrictEqual([{ type: 'RideCancelled', data: { rideId, by: 'driver', reason: null, at: T0 + 9_000 } }]);
  });

  it('a payment failure after a capture, and a second failure, change nothing', () => {
    const captured = [...completed, { type: 'PaymentCaptured', data: { rideId, paymentId: 'p_1', amount: 5, currency: 'EUR', at: T0 + 200_000 } } as RideEvent];
    const fail: RideCommand = { type: 'RecordPayment', data: { rideId, outcome: { captured: false, reason: 'declined' }, at: T0 + 201_000 } };
    expect(decide(captured, fail)).toStrictEqual([]);
    expect(decide(completed, fail)).toStrictEqual([{ type: 'PaymentFailed', data: { rideId, reason: 'declined', at: T0 + 201_000 } }]);
    expect(decide([...completed, { type: 'PaymentFailed', data: { rideId, reason: 'declined', at: T0 + 200_000 } }], fail)).toStrictEqual([]);
  });
});
