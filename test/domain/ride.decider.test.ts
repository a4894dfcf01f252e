import { describe, expect, it } from 'vitest';
import { systemActor, type Actor } from '../../domain/actor.ts';
import { defaultTariff, type Tariff } from '../../domain/fare.ts';
import { rideDecider, type RideCommand, type RideEvent } from '../../domain/ride/index.ts';
import { DeciderSpecification } from '../support/decider-spec.ts';

const spec = DeciderSpecification.for(rideDecider);

const rideId = 'r_1';
const rider: Actor = { userId: 'u_rider', role: 'rider' };
const otherRider: Actor = { userId: 'u_other', role: 'rider' };
/** The driver the ride is offered to, then assigned to. */
const driver: Actor = { userId: 'd_1', role: 'driver' };
const otherDriver: Actor = { userId: 'd_2', role: 'driver' };
const thirdDriver: Actor = { userId: 'd_3', role: 'driver' };
const admin: Actor = { userId: 'u_admin', role: 'admin' };
const pickup = { lat: 48.8566, lng: 2.3522 };
const dropoff = { lat: 48.8738, lng: 2.295 };

const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
const sec = (s: number) => T0 + s * 1000;
const OFFER_TTL_MS = 15_000;

const STATUS_CODE = {
  INVALID_TRANSITION: 409,
  NOT_FOUND: 404,
  FORBIDDEN: 403,
  ALREADY_RATED: 409,
  OFFER_EXPIRED: 409,
  DRIVER_OFFLINE: 409,
  RIDE_EXISTS: 409,
  VALIDATION_ERROR: 400,
} as const;
type ErrorCode = keyof typeof STATUS_CODE;
const thenThrows = (given: readonly RideEvent[], command: RideCommand, code: ErrorCode) =>
  spec.given(given).when(command).thenThrows(code, STATUS_CODE[code]);

const event = {
  requested: (at = T0): RideEvent => ({ type: 'RideRequested', data: { rideId, riderId: rider.userId, pickup, dropoff, at } }),
  offered: (driverId: string, round: number, at: number): RideEvent => ({
    type: 'RideOffered',
    data: { rideId, driverId, expiresAt: at + OFFER_TTL_MS, distanceMeters: 800, etaSeconds: 120, round, at },
  }),
  declined: (driverId: string, at: number): RideEvent => ({ type: 'OfferDeclined', data: { rideId, driverId, at } }),
  expired: (driverId: string, at: number): RideEvent => ({ type: 'OfferExpired', data: { rideId, driverId, at } }),
  accepted: (driverId: string, at: number): RideEvent => ({ type: 'RideAccepted', data: { rideId, driverId, at } }),
  arrived: (at: number, detected = false): RideEvent => ({ type: 'DriverArrived', data: { rideId, driverId: driver.userId, detected, at } }),
  started: (at: number): RideEvent => ({ type: 'TripStarted', data: { rideId, driverId: driver.userId, at } }),
  completed: (at: number, distanceMeters: number, durationSeconds: number, amount: number, currency = 'EUR'): RideEvent[] => [
    { type: 'TripCompleted', data: { rideId, driverId: driver.userId, distanceMeters, durationSeconds, at } },
    { type: 'FareCalculated', data: { rideId, amount, currency, distanceMeters, durationSeconds, at } },
  ],
  cancelled: (by: 'rider' | 'driver' | 'admin' | 'system', at: number, reason: string | null = null): RideEvent => ({
    type: 'RideCancelled',
    data: { rideId, by, reason, at },
  }),
  unmatched: (rounds: number, at: number): RideEvent => ({ type: 'RideUnmatched', data: { rideId, rounds, at } }),
  captured: (at: number): RideEvent => ({ type: 'PaymentCaptured', data: { rideId, paymentId: 'p_1', amount: 12.75, currency: 'EUR', at } }),
  failed: (at: number): RideEvent => ({ type: 'PaymentFailed', data: { rideId, reason: 'card declined', at } }),
  rated: (stars: number, at: number, comment: string | null = null): RideEvent => ({ type: 'RideRated', data: { rideId, stars, comment, at } }),
};

const command = {
  request: (at = T0): RideCommand => ({ type: 'RequestRide', data: { rideId, riderId: rider.userId, pickup, dropoff, at } }),
  offer: (driverId: string, at: number): RideCommand => ({
    type: 'OfferRide',
    data: { rideId, driverId, expiresAt: at + OFFER_TTL_MS, distanceMeters: 800, etaSeconds: 120, at },
  }),
  decline: (actor: Actor, at: number): RideCommand => ({ type: 'DeclineOffer', data: { rideId, actor, at } }),
  expire: (driverId: string, at: number): RideCommand => ({ type: 'ExpireOffer', data: { rideId, driverId, at } }),
  accept: (actor: Actor, at: number, driverOnline = true): RideCommand => ({ type: 'AcceptRide', data: { rideId, actor, driverOnline, at } }),
  arrive: (actor: Actor, at: number, detected?: boolean): RideCommand => ({
    type: 'ArriveAtPickup',
    data: detected === undefined ? { rideId, actor, at } : { rideId, actor, at, detected },
  }),
  start: (actor: Actor, at: number): RideCommand => ({ type: 'StartTrip', data: { rideId, actor, at } }),
  complete: (actor: Actor, at: number, distanceMeters = 5400.4, tariff: Tariff = defaultTariff): RideCommand => ({
    type: 'CompleteTrip',
    data: { rideId, actor, distanceMeters, tariff, at },
  }),
  cancel: (actor: Actor, at: number, reason: string | null = null): RideCommand => ({ type: 'CancelRide', data: { rideId, actor, reason, at } }),
  unmatch: (at: number): RideCommand => ({ type: 'MarkUnmatched', data: { rideId, at } }),
  capture: (at: number): RideCommand => ({
    type: 'RecordPayment',
    data: { rideId, outcome: { captured: true, paymentId: 'p_1', amount: 12.75, currency: 'EUR' }, at },
  }),
  fail: (at: number): RideCommand => ({ type: 'RecordPayment', data: { rideId, outcome: { captured: false, reason: 'card declined' }, at } }),
  rate: (actor: Actor, stars: number, at: number, comment: string | null = null): RideCommand => ({
    type: 'RateRide',
    data: { rideId, actor, stars, comment, at },
  }),
};

// One ride's happy path: offered at 1 s (expires at 16 s), accepted at 5 s, arrived at 2 min,
// started at 3 min, completed at 15 min 34.4 s over 5400.4 m: 754 s at the default tariff is
// 2.50 + 1.20 × 5.4 + 0.30 × 754 / 60 = 2.50 + 6.48 + 3.77 = 12.75 EUR.
const requested = [event.requested()];
const offered = [...requested, event.offered(driver.userId, 1, sec(1))];
const accepted = [...offered, event.accepted(driver.userId, sec(5))];
const arrived = [...accepted, event.arrived(sec(120))];
const inProgress = [...arrived, event.started(sec(180))];
const completed = [...inProgress, ...event.completed(sec(934.4), 5400, 754, 12.75)];

describe('ride decider: the legal path', () => {
  it('requests a ride', () => spec.given([]).when(command.request()).then([event.requested()]));

  it('offers it to a driver, round 1', () =>
    spec.given(requested).when(command.offer(driver.userId, sec(1))).then([event.offered(driver.userId, 1, sec(1))]));

  it('the offered driver declines: back to matching, round 2 goes to someone else', () => {
    spec.given(offered).when(command.decline(driver, sec(3))).then([event.declined(driver.userId, sec(3))]);
    const declined = [...offered, event.declined(driver.userId, sec(3))];
    spec.given(declined).when(command.offer(otherDriver.userId, sec(4))).then([event.offered(otherDriver.userId, 2, sec(4))]);
  });

  it('the offer expires at expiresAt: back to matching, round 3', () => {
    const offeredTwice = [...offered, event.declined(driver.userId, sec(3)), event.offered(otherDriver.userId, 2, sec(4))];
    spec.given(offeredTwice).when(command.expire(otherDriver.userId, sec(19))).then([event.expired(otherDriver.userId, sec(19))]);
    const expired = [...offeredTwice, event.expired(otherDriver.userId, sec(19))];
    spec.given(expired).when(command.offer(thirdDriver.userId, sec(20))).then([event.offered(thirdDriver.userId, 3, sec(20))]);
    spec
      .given([...expired, event.offered(thirdDriver.userId, 3, sec(20))])
      .when(command.accept(thirdDriver, sec(22)))
      .then([event.accepted(thirdDriver.userId, sec(22))]);
  });

  it('the offered driver accepts, up to and including expiresAt', () => {
    spec.given(offered).when(command.accept(driver, sec(5))).then([event.accepted(driver.userId, sec(5))]);
    spec.given(offered).when(command.accept(driver, sec(16))).then([event.accepted(driver.userId, sec(16))]);
  });

  it('the driver arrives, by tap or detected by geofence', () => {
    spec.given(accepted).when(command.arrive(driver, sec(120))).then([event.arrived(sec(120))]);
    spec.given(accepted).when(command.arrive(systemActor, sec(120), true)).then([event.arrived(sec(120), true)]);
  });

  it('the driver’s tap after a detected arrival only confirms it', () =>
    spec.given([...accepted, event.arrived(sec(118), true)]).when(command.arrive(driver, sec(120))).thenNothing());

  it('the trip starts, after arriving or straight from accepted', () => {
    spec.given(arrived).when(command.start(driver, sec(180))).then([event.started(sec(180))]);
    spec.given(accepted).when(command.start(driver, sec(180))).then([event.started(sec(180))]);
  });

  it('completes with the fare from the tariff; duration runs from TripStarted.at', () =>
    spec.given(inProgress).when(command.complete(driver, sec(934.4))).then(event.completed(sec(934.4), 5400, 754, 12.75)));

  it('prices by the tariff it is given, currency included, rounded to the cent', () => {
    const tariff: Tariff = { currency: 'GBP', base: 3, perKm: 1.5, perMinute: 0.25, minimum: 7 };
    // 3 + 1.5 × 5.4 + 0.25 × 754 / 60 = 3 + 8.1 + 3.141666… = 14.2416… → 14.24
    spec.given(inProgress).when(command.complete(driver, sec(934.4), 5400.4, tariff)).then(event.completed(sec(934.4), 5400, 754, 14.24, 'GBP'));
  });

  it('a short trip costs the minimum', () =>
    spec.given(inProgress).when(command.complete(driver, sec(200), 150)).then(event.completed(sec(200), 150, 20, 5)));

  it('records the payment: captured, or failed', () => {
    spec.given(completed).when(command.capture(sec(940))).then([event.captured(sec(940))]);
    spec.given(completed).when(command.fail(sec(940))).then([event.failed(sec(940))]);
  });

  it('the rider rates it once', () =>
    spec.given(completed).when(command.rate(rider, 5, sec(1000), 'smooth')).then([event.rated(5, sec(1000), 'smooth')]));

  it('no driver in time: unmatched, with the number of rounds tried', () => {
    spec.given(requested).when(command.unmatch(sec(300))).then([event.unmatched(0, sec(300))]);
    const twoRounds = [...offered, event.expired(driver.userId, sec(16)), event.offered(otherDriver.userId, 2, sec(17)), event.declined(otherDriver.userId, sec(20))];
    spec.given(twoRounds).when(command.unmatch(sec(300))).then([event.unmatched(2, sec(300))]);
  });
});

describe('ride decider: every status × every command', () => {
  // All commands at AT (half an hour in); the offered row's offer is live then (it expires at
  // AT + 10 s). Each column issues its command as the party who would normally send it, so a
  // cell shows what the rules make of it: driver commands come from d_1, who cannot see the
  // ride while it is requested (never offered to them) or unmatched (their offer expired).
  const AT = sec(1800);
  const rows = {
    requested,
    offered: [...requested, event.offered(driver.userId, 1, AT - 5000)],
    accepted,
    arrived,
    in_progress: inProgress,
    completed,
    'completed, paid and rated': [...completed, event.captured(sec(940)), event.rated(4, sec(1000))],
    cancelled: [...accepted, event.cancelled('rider', sec(60))],
    unmatched: [...offered, event.expired(driver.userId, sec(16)), event.unmatched(1, sec(300))],
  } satisfies Record<string, readonly RideEvent[]>;
  type Row = keyof typeof rows;
  type Outcome = readonly RideEvent[] | ErrorCode;

  const NF = 'NOT_FOUND', IT = 'INVALID_TRANSITION', FB = 'FORBIDDEN';
  const nothing: readonly RideEvent[] = [];
  const columns: ReadonlyArray<{ name: string; command: RideCommand; outcomes: Record<Row, Outcome> }> = [
    {
      name: 'RequestRide',
      command: command.request(AT),
      outcomes: { requested: 'RIDE_EXISTS', offered: 'RIDE_EXISTS', accepted: 'RIDE_EXISTS', arrived: 'RIDE_EXISTS', in_progress: 'RIDE_EXISTS', completed: 'RIDE_EXISTS', 'completed, paid and rated': 'RIDE_EXISTS', cancelled: 'RIDE_EXISTS', unmatched: 'RIDE_EXISTS' },
    },
    {
      name: 'OfferRide (d_2)',
      command: command.offer(otherDriver.userId, AT),
      outcomes: { requested: [event.offered(otherDriver.userId, 1, AT)], offered: IT, accepted: IT, arrived: IT, in_progress: IT, completed: IT, 'completed, paid and rated': IT, cancelled: IT, unmatched: IT },
    },
    {
      name: 'DeclineOffer (d_1)',
      command: command.decline(driver, AT),
      outcomes: { requested: NF, offered: [event.declined(driver.userId, AT)], accepted: IT, arrived: IT, in_progress: IT, completed: IT, 'completed, paid and rated': IT, cancelled: IT, unmatched: NF },
    },
    {
      name: 'ExpireOffer (d_1, at expiresAt)',
      command: command.expire(driver.userId, AT + 10_000),
      outcomes: { requested: nothing, offered: [event.expired(driver.userId, AT + 10_000)], accepted: nothing, arrived: nothing, in_progress: nothing, completed: nothing, 'completed, paid and rated': nothing, cancelled: nothing, unmatched: nothing },
    },
    {
      name: 'AcceptRide (d_1)',
      command: command.accept(driver, AT),
      outcomes: { requested: NF, offered: [event.accepted(driver.userId, AT)], accepted: IT, arrived: IT, in_progress: IT, completed: IT, 'completed, paid and rated': IT, cancelled: IT, unmatched: 'OFFER_EXPIRED' },
    },
    {
      name: 'ArriveAtPickup (d_1)',
      command: command.arrive(driver, AT),
      outcomes: { requested: NF, offered: FB, accepted: [event.arrived(AT)], arrived: nothing, in_progress: IT, completed: IT, 'completed, paid and rated': IT, cancelled: IT, unmatched: NF },
    },
    {
      name: 'StartTrip (d_1)',
      command: command.start(driver, AT),
      outcomes: { requested: NF, offered: FB, accepted: [event.started(AT)], arrived: [event.started(AT)], in_progress: IT, completed: IT, 'completed, paid and rated': IT, cancelled: IT, unmatched: NF },
    },
    {
      name: 'CompleteTrip (d_1, 5 km)',
      // 27 min after TripStarted: 2.50 + 1.20 × 5 + 0.30 × 27 = 16.60
      command: command.complete(driver, AT, 5000),
      outcomes: { requested: NF, offered: FB, accepted: IT, arrived: IT, in_progress: event.completed(AT, 5000, 1620, 16.6), completed: IT, 'completed, paid and rated': IT, cancelled: IT, unmatched: NF },
    },
    {
      name: 'CancelRide (rider)',
      command: command.cancel(rider, AT, 'changed my mind'),
      outcomes: (() => {
        const ok = [event.cancelled('rider', AT, 'changed my mind')];
        return { requested: ok, offered: ok, accepted: ok, arrived: ok, in_progress: ok, completed: IT, 'completed, paid and rated': IT, cancelled: IT, unmatched: IT };
      })(),
    },
    {
      name: 'MarkUnmatched',
      command: command.unmatch(AT),
      outcomes: { requested: [event.unmatched(0, AT)], offered: IT, accepted: IT, arrived: IT, in_progress: IT, completed: IT, 'completed, paid and rated': IT, cancelled: IT, unmatched: IT },
    },
    {
      name: 'RecordPayment (captured)',
      command: command.capture(AT),
      outcomes: { requested: IT, offered: IT, accepted: IT, arrived: IT, in_progress: IT, completed: [event.captured(AT)], 'completed, paid and rated': nothing, cancelled: IT, unmatched: IT },
    },
    {
      name: 'RateRide (rider, 5 stars)',
      command: command.rate(rider, 5, AT),
      outcomes: { requested: IT, offered: IT, accepted: IT, arrived: IT, in_progress: IT, completed: [event.rated(5, AT)], 'completed, paid and rated': 'ALREADY_RATED', cancelled: IT, unmatched: IT },
    },
  ];

  const describeOutcome = (o: Outcome) => (typeof o === 'string' ? o : o.length === 0 ? 'nothing' : o.map((e) => e.type).join(' + '));
  const cells = columns.flatMap(({ name, command: cmd, outcomes }) =>
    (Object.keys(rows) as Row[]).map((row) => ({ row, name, cmd, outcome: outcomes[row], label: describeOutcome(outcomes[row]) })),
  );

  it.each(cells)('$row × $name → $label', ({ row, cmd, outcome }) => {
    const when = spec.given(rows[row]).when(cmd);
    if (typeof outcome === 'string') when.thenThrows(outcome, STATUS_CODE[outcome as ErrorCode]);
    else if (outcome.length === 0) when.thenNothing();
    else when.then(outcome);
  });

  it('covers every command type', () => {
    const types = new Set(columns.map((c) => c.command.type));
    expect(types.size).toBe(12);
  });

  it.each(columns.filter((c) => c.command.type !== 'RequestRide'))('a ride that does not exist × $name → NOT_FOUND', ({ command: cmd }) => {
    thenThrows([], cmd, 'NOT_FOUND');
  });
});

describe('ride decider: who may do what', () => {
  // No leak: the answer is word for word the one for a ride that does not exist.
  const leaksNothing = (message: string) => expect(message).toBe(thenThrows([], command.unmatch(T0), 'NOT_FOUND').message);

  it('another rider gets NOT_FOUND for everything, and learns nothing about the ride', () => {
    leaksNothing(thenThrows(requested, command.cancel(otherRider, sec(10)), 'NOT_FOUND').message);
    leaksNothing(thenThrows(completed, command.rate(otherRider, 5, sec(1000)), 'NOT_FOUND').message);
    leaksNothing(thenThrows(completed, command.cancel(otherRider, sec(1000)), 'NOT_FOUND').message);
    thenThrows(offered, command.accept(otherRider, sec(5)), 'NOT_FOUND');
    thenThrows(offered, command.decline(otherRider, sec(5)), 'NOT_FOUND');
    thenThrows(accepted, command.arrive(otherRider, sec(120)), 'NOT_FOUND');
    thenThrows(arrived, command.start(otherRider, sec(180)), 'NOT_FOUND');
    thenThrows(inProgress, command.complete(otherRider, sec(900)), 'NOT_FOUND');
  });

  it('only the offered driver may accept or decline; another driver gets NOT_FOUND', () => {
    leaksNothing(thenThrows(offered, command.accept(otherDriver, sec(5)), 'NOT_FOUND').message);
    thenThrows(offered, command.decline(otherDriver, sec(5)), 'NOT_FOUND');
    spec.given(offered).when(command.decline(driver, sec(5))).then([event.declined(driver.userId, sec(5))]);
  });

  it('the rider can see the offered ride but cannot accept or decline for the driver', () => {
    thenThrows(offered, command.accept(rider, sec(5)), 'INVALID_TRANSITION');
    thenThrows(offered, command.decline(rider, sec(5)), 'INVALID_TRANSITION');
  });

  it('a driver whose offer was declined or expired is told the offer is gone', () => {
    thenThrows([...offered, event.declined(driver.userId, sec(3))], command.accept(driver, sec(4)), 'OFFER_EXPIRED');
    thenThrows([...offered, event.expired(driver.userId, sec(16))], command.accept(driver, sec(17)), 'OFFER_EXPIRED');
  });

  it('another driver gets NOT_FOUND for arrive, start, complete', () => {
    thenThrows(accepted, command.arrive(otherDriver, sec(120)), 'NOT_FOUND');
    thenThrows(arrived, command.start(otherDriver, sec(180)), 'NOT_FOUND');
    thenThrows(inProgress, command.complete(otherDriver, sec(900)), 'NOT_FOUND');
  });

  it('the rider cannot arrive, start or complete: FORBIDDEN', () => {
    thenThrows(accepted, command.arrive(rider, sec(120)), 'FORBIDDEN');
    thenThrows(arrived, command.start(rider, sec(180)), 'FORBIDDEN');
    thenThrows(inProgress, command.complete(rider, sec(900)), 'FORBIDDEN');
  });

  it('staff may drive the trip on the driver’s behalf; the events name the assigned driver', () => {
    spec.given(accepted).when(command.arrive(admin, sec(120))).then([event.arrived(sec(120))]);
    spec.given(arrived).when(command.start(systemActor, sec(180))).then([event.started(sec(180))]);
  });

  it('only the rider rates: the driver and staff get FORBIDDEN', () => {
    thenThrows(completed, command.rate(driver, 5, sec(1000)), 'FORBIDDEN');
    thenThrows(completed, command.rate(admin, 5, sec(1000)), 'FORBIDDEN');
  });
});

describe('ride decider: cancelling', () => {
  it('the rider, the assigned driver, an admin or the system may cancel before completion, and are named', () => {
    spec.given(offered).when(command.cancel(rider, sec(3), 'too slow')).then([event.cancelled('rider', sec(3), 'too slow')]);
    spec.given(arrived).when(command.cancel(driver, sec(200), 'no show')).then([event.cancelled('driver', sec(200), 'no show')]);
    spec.given(inProgress).when(command.cancel(admin, sec(300))).then([event.cancelled('admin', sec(300))]);
    spec.given(requested).when(command.cancel(systemActor, sec(300))).then([event.cancelled('system', sec(300))]);
  });

  it('the driver merely offered the ride declines rather than cancels: FORBIDDEN', () =>
    thenThrows(offered, command.cancel(driver, sec(3)), 'FORBIDDEN'));

  it('nobody cancels a completed, cancelled or unmatched ride', () => {
    thenThrows(completed, command.cancel(rider, sec(1000)), 'INVALID_TRANSITION');
    thenThrows(completed, command.cancel(driver, sec(1000)), 'INVALID_TRANSITION');
    thenThrows(completed, command.cancel(admin, sec(1000)), 'INVALID_TRANSITION');
    thenThrows([...requested, event.cancelled('rider', sec(2))], command.cancel(rider, sec(3)), 'INVALID_TRANSITION');
    thenThrows([...requested, event.unmatched(0, sec(300))], command.cancel(rider, sec(301)), 'INVALID_TRANSITION');
  });

  it('a cancelled offer can no longer be accepted or expired', () => {
    const cancelledWhileOffered = [...offered, event.cancelled('rider', sec(3))];
    thenThrows(cancelledWhileOffered, command.accept(driver, sec(4)), 'NOT_FOUND');
    spec.given(cancelledWhileOffered).when(command.expire(driver.userId, sec(16))).thenNothing();
  });
});

describe('ride decider: offers', () => {
  it('expiry before expiresAt is nothing (an early timer)', () =>
    spec.given(offered).when(command.expire(driver.userId, sec(15.999))).thenNothing());

  it('expiry is idempotent: an answered, expired or replaced offer expires into nothing', () => {
    spec.given(accepted).when(command.expire(driver.userId, sec(16))).thenNothing();
    spec.given([...offered, event.declined(driver.userId, sec(3))]).when(command.expire(driver.userId, sec(16))).thenNothing();
    spec.given([...offered, event.expired(driver.userId, sec(16))]).when(command.expire(driver.userId, sec(16))).thenNothing();
    const replaced = [...offered, event.declined(driver.userId, sec(3)), event.offered(otherDriver.userId, 2, sec(4))];
    spec.given(replaced).when(command.expire(driver.userId, sec(16))).thenNothing();
  });

  it('accepting after expiresAt, before the expiry is recorded: OFFER_EXPIRED', () =>
    thenThrows(offered, command.accept(driver, sec(16.001)), 'OFFER_EXPIRED'));

  it('a driver who went offline while holding the offer cannot accept it: DRIVER_OFFLINE', () =>
    thenThrows(offered, command.accept(driver, sec(4), false), 'DRIVER_OFFLINE'));

  it('a driver who declined or let the offer expire is not offered the ride again', () => {
    thenThrows([...offered, event.declined(driver.userId, sec(3))], command.offer(driver.userId, sec(4)), 'INVALID_TRANSITION');
    const expiredThenOther = [...offered, event.expired(driver.userId, sec(16)), event.offered(otherDriver.userId, 2, sec(17)), event.declined(otherDriver.userId, sec(18))];
    thenThrows(expiredThenOther, command.offer(driver.userId, sec(19)), 'INVALID_TRANSITION');
    thenThrows(expiredThenOther, command.offer(otherDriver.userId, sec(19)), 'INVALID_TRANSITION');
    spec.given(expiredThenOther).when(command.offer(thirdDriver.userId, sec(19))).then([event.offered(thirdDriver.userId, 3, sec(19))]);
  });

  it('one offer at a time: offering an offered ride is INVALID_TRANSITION', () =>
    thenThrows(offered, command.offer(otherDriver.userId, sec(2)), 'INVALID_TRANSITION'));
});

describe('ride decider: payment and rating', () => {
  it('payment recording is idempotent: a redelivered outcome changes nothing', () => {
    spec.given([...completed, event.captured(sec(940))]).when(command.capture(sec(941))).thenNothing();
    spec.given([...completed, event.failed(sec(940))]).when(command.fail(sec(941))).thenNothing();
    spec.given([...completed, event.captured(sec(940))]).when(command.fail(sec(941))).thenNothing();
  });

  it('a failed payment can still be captured on retry', () =>
    spec.given([...completed, event.failed(sec(940))]).when(command.capture(sec(1000))).then([event.captured(sec(1000))]));

  it('rates once: a second rating is ALREADY_RATED', () =>
    thenThrows([...completed, event.rated(4, sec(1000))], command.rate(rider, 5, sec(1001)), 'ALREADY_RATED'));

  it.each([0, 6, -1, 3.5, Number.NaN])('stars = %s → VALIDATION_ERROR 400', (stars) => {
    thenThrows(completed, command.rate(rider, stars, sec(1000)), 'VALIDATION_ERROR');
  });

  it.each([1, 5])('stars = %s is accepted', (stars) =>
    spec.given(completed).when(command.rate(rider, stars, sec(1000))).then([event.rated(stars, sec(1000))]));
});
