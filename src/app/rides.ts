import type { Actor } from '../../domain/actor.ts';
import { DomainError, notFound } from '../../domain/errors.ts';
import { distanceMeters, pathLengthMeters, type LatLng } from '../../domain/geo.ts';
import { fold } from '../../domain/decider.ts';
import { driverDecider, type DriverEvent } from '../../domain/driver/index.ts';
import { handle } from '../../domain/handle.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { Claims } from '../../domain/ports/claims.ts';
import type { EventLog, Recorded } from '../../domain/ports/event-log.ts';
import type { PaymentOutcome } from '../../domain/ports/payment.ts';
import type { RideReadModel, TrackPoint } from '../../domain/ports/read-model.ts';
import type { RideCommands } from '../../domain/ports/ride-commands.ts';
import type { Tariff } from '../../domain/fare.ts';
import { FINAL_STATUSES, mustFollow, rideDecider, toView, type Ride, type RideCommand, type RideEvent } from '../../domain/ride/index.ts';
import type { Metrics } from './metrics.ts';
import { abandoned, decodeClaim, encodeClaim, fingerprintOf } from './ride-claims.ts';

const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
/** How long a request waits for another in flight with the same Idempotency-Key before a 409. */
const IDEMPOTENCY_WAIT_MS = 5_000;
const IDEMPOTENCY_POLL_MS = 20;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What the ride service uses, and nothing else. */
export interface RideServiceDeps {
  readonly log: EventLog;
  /** One unfinished ride per rider, and Idempotency-Key answers. */
  readonly claims: Claims;
  /** Reads (`view`) and the trip's track (the fare's distance). */
  readonly readModel: RideReadModel;
  readonly clock: Clock;
  readonly newId: (prefix: string) => string;
  readonly metrics: Pick<Metrics, 'eventsAppended'>;
  readonly tariff: Tariff;
}

/** The rider's and driver's ride commands: load → decide → append, answered from the log. */
export interface RideServiceOptions {
  /** Whether a point lies inside the service area (zones); absent: everywhere. */
  readonly serviceArea?: (p: LatLng) => boolean;
  /**
   * The trip's length from its track (domain/tracking/track.ts: only the plausible track counts,
   * parked jitter and forged points do not); never more than top speed × `maxDurationMs`.
   */
  readonly tripDistance?: (points: readonly TrackPoint[], maxDurationMs: number) => number;
}

export function makeRideService(deps: RideServiceDeps, { serviceArea, tripDistance = pathLengthMeters }: RideServiceOptions = {}) {
  const { log, claims, readModel, clock, newId, metrics, tariff } = deps;
  const now = () => clock.now();

  async function history(rideId: string) {
    return log.readKey('rides', rideId);
  }

  /** The ride as the log has it now (read-your-writes, unlike the projection). */
  async function current(rideId: string): Promise<Ride | null> {
    const ride = fold(rideDecider, await history(rideId));
    return ride.status === 'none' ? null : ride;
  }

  async function command(rideId: string, cmd: RideCommand): Promise<Ride> {
    const { state, appended } = await handle(log, 'rides', rideId, rideDecider, cmd);
    if (appended.length) metrics.eventsAppended.inc({ stream: 'rides' }, appended.length);
    if (state.status === 'none') throw notFound(`ride ${rideId}`);
    return state;
  }

  /**
   * A rider has one unfinished ride at a time. The claim names the ride being requested; a claim
   * whose ride is final, or that never got its ride (abandoned), is stale and released by value, so
   * a request never drops a claim someone else took meanwhile. A claim whose ride is still being
   * appended is in progress: 409, never a second ride.
   */
  async function claimActive(riderId: string, rideId: string): Promise<string> {
    const key = `active:${riderId}`;
    const mine = encodeClaim({ rideId, claimedAtMs: now(), fingerprint: null });
    for (let attempt = 0; attempt < 3; attempt++) {
      const held = await claims.claim(key, mine);
      if (held === null) return mine;
      const holder = decodeClaim(held);
      const ride = await current(holder.rideId);
      const stale = ride ? FINAL_STATUSES.has(ride.status) : abandoned(holder, now());
      if (!stale) throw new DomainError('RIDE_IN_PROGRESS', 409, `rider already has ride ${holder.rideId} in progress`);
      await claims.release(key, held);
    }
    throw new DomainError('RIDE_IN_PROGRESS', 409, 'rider already has a ride in progress');
  }

  /**
   * Drops a claim after a failed request, unless its ride made it into the log after all (the append
   * may have landed before a later step failed). When the log cannot tell, the claim stays and ages
   * out (IN_FLIGHT_MAX_MS) rather than risking a second ride.
   */
  async function releaseUnlessCreated(key: string, value: string, rideId: string): Promise<void> {
    const created = await current(rideId).then((v) => v !== null, () => undefined);
    if (created === false) await claims.release(key, value).catch(() => undefined);
  }

  async function create(actor: Actor, input: { pickup: LatLng; dropoff: LatLng }, rideId: string): Promise<Ride> {
    const active = await claimActive(actor.userId, rideId);
    try {
      return await command(rideId, { type: 'RequestRide', data: { rideId, riderId: actor.userId, ...input, at: now() } });
    } catch (err) {
      await releaseUnlessCreated(`active:${actor.userId}`, active, rideId);
      throw err;
    }
  }

  /**
   * The Idempotency-Key's answer: the ride it made, once that ride is in the log. A request that
   * finds the key taken by one still in flight waits for its outcome: the ride (202), or the key
   * released because that request failed, and then this one tries for itself and gets its own final
   * answer. It never answers with a ride id that may not exist.
   */
  async function requestOnce(actor: Actor, input: { pickup: LatLng; dropoff: LatLng }, idempotencyKey: string): Promise<Ride> {
    const key = `idem:${actor.userId}:${idempotencyKey}`;
    const fingerprint = fingerprintOf(input);
    const giveUpAt = performance.now() + IDEMPOTENCY_WAIT_MS;
    for (;;) {
      const rideId = newId('r');
      const mine = encodeClaim({ rideId, claimedAtMs: now(), fingerprint });
      const held = await claims.claim(key, mine, IDEMPOTENCY_TTL_MS);
      if (held === null) {
        try {
          return await create(actor, input, rideId);
        } catch (err) {
          await releaseUnlessCreated(key, mine, rideId);
          throw err;
        }
      }
      const holder = decodeClaim(held);
      if (holder.fingerprint !== null && holder.fingerprint !== fingerprint)
        throw new DomainError('IDEMPOTENCY_KEY_REUSED', 422, 'this Idempotency-Key was used with a different request body');
      const ride = await current(holder.rideId);
      if (ride) return ride;
      if (abandoned(holder, now())) await claims.release(key, held);
      else if (performance.now() > giveUpAt)
        throw new DomainError('IDEMPOTENCY_KEY_IN_USE', 409, 'a request with this Idempotency-Key is still in progress; retry shortly');
      else await sleep(IDEMPOTENCY_POLL_MS);
    }
  }

  return {
    current,
    history,

    async request(actor: Actor, input: { pickup: LatLng; dropoff: LatLng }, idempotencyKey?: string) {
      if (serviceArea && !(serviceArea(input.pickup) && serviceArea(input.dropoff)))
        throw new DomainError('OUTSIDE_SERVICE_AREA', 422, 'pickup and dropoff must lie inside the service area');
      return idempotencyKey ? requestOnce(actor, input, idempotencyKey) : create(actor, input, newId('r'));
    },

    /** What `GET /v1/rides/:id` shows: the projection, or the log when the projection has not caught up. */
    async view(actor: Actor, rideId: string): Promise<Ride> {
      return mustFollow({ actor }, rideId, (await readModel.get(rideId)) ?? (await current(rideId)));
    },

    /** The driver's availability is read from their own stream (the log, not a projection), then the ride decides. */
    async accept(actor: Actor, rideId: string) {
      const driver = fold(driverDecider, await log.readKey('drivers', actor.userId));
      return command(rideId, { type: 'AcceptRide', data: { rideId, actor, driverOnline: driver.available, at: now() } });
    },
    decline: (actor: Actor, rideId: string) => command(rideId, { type: 'DeclineOffer', data: { rideId, actor, at: now() } }),
    arrive: (actor: Actor, rideId: string, detected = false) =>
      command(rideId, { type: 'ArriveAtPickup', data: { rideId, actor, detected, at: now() } }),
    start: (actor: Actor, rideId: string) => command(rideId, { type: 'StartTrip', data: { rideId, actor, at: now() } }),
    cancel: (actor: Actor, rideId: string, reason: string | null) =>
      command(rideId, { type: 'CancelRide', data: { rideId, actor, reason, at: now() } }),
    record: (rideId: string, outcome: PaymentOutcome) =>
      command(rideId, { type: 'RecordPayment', data: { rideId, outcome, at: now() } }),
    rate: (actor: Actor, rideId: string, stars: number, comment: string | null) =>
      command(rideId, { type: 'RateRide', data: { rideId, actor, stars, comment, at: now() } }),

    /**
     * The fare's distance is the track's length during the trip (device times from 5 s before the
     * start, for a clock a little behind, up to now); the straight line when there is no track.
     */
    async complete(actor: Actor, rideId: string) {
      const view = await current(rideId);
      const at = now();
      let distance = 0;
      if (view) {
        const since = view.startedAt !== null ? view.startedAt - 5_000 : 0;
        const points = (await readModel.track(rideId)).filter((p) => p.recordedAt >= since && p.recordedAt <= at);
        distance = points.length >= 2 ? tripDistance(points, view.startedAt !== null ? at - since : Infinity) : distanceMeters(view.pickup, view.dropoff);
      }
      return command(rideId, { type: 'CompleteTrip', data: { rideId, actor, distanceMeters: distance, tariff, at } });
    },
  };
}

export type RideService = ReturnType<typeof makeRideService>;

/** The ride commands port over the service: each answers the ride in its public shape. */
export function rideCommands(rides: RideService): RideCommands {
  return {
    request: async (rider, trip, idempotencyKey) => toView(await rides.request(rider, trip, idempotencyKey)),
    accept: async (driver, rideId) => toView(await rides.accept(driver, rideId)),
    decline: async (driver, rideId) => toView(await rides.decline(driver, rideId)),
    arrive: async (driver, rideId) => toView(await rides.arrive(driver, rideId)),
    start: async (driver, rideId) => toView(await rides.start(driver, rideId)),
    complete: async (driver, rideId) => toView(await rides.complete(driver, rideId)),
    cancel: async (actor, rideId, reason) => toView(await rides.cancel(actor, rideId, reason)),
    rate: async (rider, rideId, stars, comment) => toView(await rides.rate(rider, rideId, stars, comment)),
  };
}
