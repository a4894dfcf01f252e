import type { Actor } from '../../domain/actor.ts';
import { DomainError, notFound } from '../../domain/errors.ts';
import { distanceMeters, pathLengthMeters, type LatLng } from '../../domain/geo.ts';
import { fold } from '../../domain/decider.ts';
import { driverDecider, type DriverEvent } from '../../domain/driver/index.ts';
import { handle } from '../../domain/handle.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import type { PaymentOutcome } from '../../domain/ports/payment.ts';
import type { TrackPoint } from '../../domain/ports/read-model.ts';
import { FINAL_STATUSES, rideDecider, type RideCommand, type RideEvent } from '../../domain/ride/index.ts';
import { canSeeView, foldRideView, type RideView } from '../../projections/rides/view.ts';
import type { Context } from './context.ts';
import { abandoned, decodeClaim, encodeClaim, fingerprintOf } from './ride-claims.ts';

const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
/** How long a request waits for another in flight with the same Idempotency-Key before a 409. */
const IDEMPOTENCY_WAIT_MS = 5_000;
const IDEMPOTENCY_POLL_MS = 20;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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

export function makeRideService(ctx: Context, { serviceArea, tripDistance = pathLengthMeters }: RideServiceOptions = {}) {
  const { log, claims, readModel, now } = ctx;

  async function history(rideId: string) {
    return log.readKey('rides', rideId);
  }

  /** The ride as the log has it now (read-your-writes, unlike the projection). */
  async function current(rideId: string): Promise<RideView | null> {
    return foldRideView(await history(rideId));
  }

  async function command(rideId: string, cmd: RideCommand): Promise<RideView> {
    const { appended } = await handle(log, 'rides', rideId, rideDecider, cmd);
    if (appended.length) ctx.metrics.eventsAppended.inc({ stream: 'rides' }, appended.length);
    const view = await current(rideId);
    if (!view) throw notFound(`ride ${rideId}`);
    return view;
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

  async function create(actor: Actor, input: { pickup: LatLng; dropoff: LatLng }, rideId: string): Promise<RideView> {
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
  async function requestOnce(actor: Actor, input: { pickup: LatLng; dropoff: LatLng }, idempotencyKey: string): Promise<RideView> {
    const key = `idem:${actor.userId}:${idempotencyKey}`;
    const fingerprint = fingerprintOf(input);
    const giveUpAt = performance.now() + IDEMPOTENCY_WAIT_MS;
    for (;;) {
      const rideId = ctx.newId('r');
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
      return idempotencyKey ? requestOnce(actor, input, idempotencyKey) : create(actor, input, ctx.newId('r'));
    },

    /** What `GET /v1/rides/:id` shows: the projection, or the log when the projection has not caught up. */
    async view(actor: Actor, rideId: string): Promise<RideView> {
      const view = ((await readModel.get(rideId)) as RideView | null) ?? (await current(rideId));
      if (!view || !canSeeView(actor, view)) throw notFound(`ride ${rideId}`);
      return view;
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
        const since = view.startedAt ? Date.parse(view.startedAt) - 5_000 : 0;
        const points = (await readModel.track(rideId)).filter((p) => p.recordedAt >= since && p.recordedAt <= at);
        distance = points.length >= 2 ? tripDistance(points, view.startedAt ? at - since : Infinity) : distanceMeters(view.pickup, view.dropoff);
      }
      return command(rideId, { type: 'CompleteTrip', data: { rideId, actor, distanceMeters: distance, tariff: ctx.tariff, at } });
    },
  };
}

export type RideService = ReturnType<typeof makeRideService>;
