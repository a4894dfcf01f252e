import type { Actor } from '../../domain/actor.ts';
import { DomainError, notFound } from '../../domain/errors.ts';
import { distanceMeters, pathLengthMeters, type LatLng } from '../../domain/geo.ts';
import { handle } from '../../domain/handle.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import type { PaymentOutcome } from '../../domain/ports/payment.ts';
import type { TrackPoint } from '../../domain/ports/read-model.ts';
import { FINAL_STATUSES, rideDecider, type RideCommand, type RideEvent } from '../../domain/ride/index.ts';
import { canSeeView, foldRideView, type RideView } from '../../projections/rides/view.ts';
import type { Context } from './context.ts';

const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

/** The rider's and driver's ride commands: load → decide → append, answered from the log. */
export interface RideServiceOptions {
  /** Whether a point lies inside the service area (zones); absent: everywhere. */
  readonly serviceArea?: (p: LatLng) => boolean;
  /** The trip's length from its cleaned track (the tracker's rule ignores parked jitter). */
  readonly tripDistance?: (points: readonly TrackPoint[]) => number;
}

export function makeRideService(ctx: Context, { serviceArea, tripDistance = pathLengthMeters }: RideServiceOptions = {}) {
  const { log, claims, readModel, now } = ctx;

  async function history(rideId: string) {
    return (await log.readKey('rides', rideId)) as Recorded<RideEvent>[];
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

  /** A rider has one unfinished ride at a time; a claim that points at a finished ride is stale. */
  async function claimActive(riderId: string, rideId: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const holder = await claims.claim(`active:${riderId}`, rideId);
      if (holder === null || holder === rideId) return;
      const held = await current(holder);
      if (held && !FINAL_STATUSES.has(held.status))
        throw new DomainError('RIDE_IN_PROGRESS', 409, `rider already has ride ${holder} in progress`);
      await claims.release(`active:${riderId}`, holder);
    }
    throw new DomainError('RIDE_IN_PROGRESS', 409, 'rider already has a ride in progress');
  }

  return {
    current,
    history,

    async request(actor: Actor, input: { pickup: LatLng; dropoff: LatLng }, idempotencyKey?: string) {
      if (serviceArea && !(serviceArea(input.pickup) && serviceArea(input.dropoff)))
        throw new DomainError('OUTSIDE_SERVICE_AREA', 422, 'pickup and dropoff must lie inside the service area');
      const rideId = ctx.newId('r');
      const idemKey = idempotencyKey && `idem:${actor.userId}:${idempotencyKey}`;
      if (idemKey) {
        const earlier = await claims.claim(idemKey, rideId, IDEMPOTENCY_TTL_MS);
        if (earlier) return (await current(earlier)) ?? { rideId: earlier, status: 'requested' as const };
      }
      try {
        await claimActive(actor.userId, rideId);
        return await command(rideId, { type: 'RequestRide', data: { rideId, riderId: actor.userId, ...input, at: now() } });
      } catch (err) {
        if (idemKey) await claims.release(idemKey, rideId);
        await claims.release(`active:${actor.userId}`, rideId);
        throw err;
      }
    },

    /** What `GET /v1/rides/:id` shows: the projection, or the log when the projection has not caught up. */
    async view(actor: Actor, rideId: string): Promise<RideView> {
      const view = ((await readModel.get(rideId)) as RideView | null) ?? (await current(rideId));
      if (!view || !canSeeView(actor, view)) throw notFound(`ride ${rideId}`);
      return view;
    },

    accept: (actor: Actor, rideId: string) => command(rideId, { type: 'AcceptRide', data: { rideId, actor, at: now() } }),
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

    /** The fare's distance is the cleaned track's length during the trip; straight line if no track. */
    async complete(actor: Actor, rideId: string) {
      const view = await current(rideId);
      let distance = 0;
      if (view) {
        const since = view.startedAt ? Date.parse(view.startedAt) - 5_000 : 0;
        const points = (await readModel.track(rideId)).filter((p) => p.recordedAt >= since);
        distance = points.length >= 2 ? tripDistance(points) : distanceMeters(view.pickup, view.dropoff);
      }
      return command(rideId, { type: 'CompleteTrip', data: { rideId, actor, distanceMeters: distance, tariff: ctx.tariff, at: now() } });
    },
  };
}

export type RideService = ReturnType<typeof makeRideService>;
