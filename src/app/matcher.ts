import { DomainError } from '../../domain/errors.ts';
import { fold } from '../../domain/decider.ts';
import { distanceMeters, type LatLng } from '../../domain/geo.ts';
import { handle } from '../../domain/handle.ts';
import type { FairnessRules } from '../../domain/matching/dispatch.ts';
import type { EtaEstimator } from '../../domain/tracking/eta.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import { offerLapsed, rideDecider, type Ride, type RideEvent } from '../../domain/ride/index.ts';
import { makeBatchWindow } from './batch-window.ts';
import { makeCandidates } from './candidates.ts';
import type { Claims } from '../../domain/ports/claims.ts';
import type { EventLog } from '../../domain/ports/event-log.ts';
import type { MatchPolicy } from '../../domain/matching/policy.ts';
import type { Fleet } from '../../projections/fleet/index.ts';
import type { Logger } from '../../domain/ports/logger.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { Metrics } from './metrics.ts';
import type { DriverService } from './drivers.ts';

export interface MatcherOptions {
  /** A ride nobody could be offered for this long is declared unmatched. */
  readonly matchTimeoutMs: number;
  /** How often to look again when nobody is free, and to sweep expired offers. */
  readonly retryMs: number;
  readonly etaSeconds?: (from: { lat: number; lng: number }, to: { lat: number; lng: number }) => number;
  /** The dispatch policy; `nearest` when absent. */
  readonly dispatch?: DispatchOptions;
}

/**
 * The dispatch policy port's two implementations. `nearest`: a ride that needs a driver is offered
 * at once to its best-ranked free driver. `batched`: it waits at most `batchWindowMs` in a window
 * (batch-window.ts) solved as one minimum-cost assignment. Both hold and offer the same way below.
 */
export interface DispatchOptions {
  readonly matching: 'nearest' | 'batched';
  readonly batchWindowMs: number;
  readonly fairness: FairnessRules;
  readonly eta: EtaEstimator;
  /** OFFER_FANOUT: a ride is offered to this many drivers at once, each held first; the first to accept wins. */
  readonly offerFanout?: number;
}

/**
 * Offers each requested ride to the best free driver. The driver is held first (an append on the
 * driver's stream at the version we read), so two matchers racing for one driver cannot both win;
 * only then is the offer appended to the ride, and the hold released if the ride moved on meanwhile
 * (unless the ride is by then offered to that very driver: the hold is that offer's). A per-ride
 * lease in the shared claims keeps instances from matching one ride at the same moment.
 */
export interface MatcherDeps {
  readonly log: EventLog;
  /** The per-ride lease. */
  readonly claims: Claims;
  readonly fleet: Fleet;
  readonly matchPolicy: MatchPolicy;
  readonly clock: Clock;
  readonly newId: (prefix: string) => string;
  readonly logger: Logger;
  readonly metrics: Pick<Metrics, 'offersMade' | 'ridesUnmatched' | 'matchSeconds'>;
}

export function makeMatcher(ctx: MatcherDeps, drivers: DriverService, options: MatcherOptions) {
  const { log, fleet, matchPolicy: policy, clock } = ctx;
  const now = () => clock.now();
  const eta = options.etaSeconds ?? ((a, b) => Math.round((distanceMeters(a, b) * 1.3) / 8));
  const timers = new Map<string, NodeJS.Timeout>();
  /** Names this matcher in the per-ride lease; the lease lapses by itself if the holder dies. */
  const leaseOwner = ctx.newId('matcher');
  const LEASE_MS = 5_000;
  let stopped = false;
  const fairness = options.dispatch?.fairness;
  const fanout = Math.max(1, Math.floor(options.dispatch?.offerFanout ?? 1));
  const { ranked, distanceTo } = makeCandidates(fleet, policy, fairness, now);
  const batch =
    options.dispatch?.matching === 'batched'
      ? makeBatchWindow(ctx, {
          windowMs: options.dispatch.batchWindowMs,
          eta: options.dispatch.eta,
          fairness: options.dispatch.fairness,
          fanout,
          reconsider: (rideId) => void consider(rideId).catch((err) => ctx.logger.warn({ err, rideId }, 'matching failed; will retry')),
        })
      : null;

  const later = (rideId: string, ms: number) => {
    if (stopped) return;
    clearTimeout(timers.get(rideId));
    const timer = setTimeout(() => {
      timers.delete(rideId);
      void consider(rideId).catch((err) => ctx.logger.warn({ err, rideId }, 'matching failed; will retry'));
    }, ms);
    timer.unref();
    timers.set(rideId, timer);
  };

  async function tryOffer(rideId: string, pickup: LatLng, driverId: string, distance: number, knownEta?: number): Promise<'offered' | 'driver-taken' | 'ride-moved'> {
    const at = now();
    const expiresAt = at + policy.offerTimeoutMs;
    try {
      await drivers.command(driverId, { type: 'HoldOffer', data: { driverId, rideId, expiresAt, at } });
    } catch (err) {
      if (err instanceof DomainError && (err.code === 'DRIVER_UNAVAILABLE' || err.code === 'VERSION_CONFLICT')) return 'driver-taken';
      throw err;
    }
    const driver = fleet.get(driverId);
    try {
      const etaSeconds = knownEta ?? (driver?.position ? eta(driver.position, pickup) : 0);
      await handle(log, 'rides', rideId, rideDecider, {
        type: 'OfferRide',
        data: { rideId, driverId, expiresAt, distanceMeters: distance, etaSeconds, fanout, at },
      });
      ctx.metrics.offersMade.inc();
      return 'offered';
    } catch (err) {
      // The hold for this ride may be serving an offer another matcher (another instance, a sweep)
      // made with the same driver a moment ago: releasing it then would free a driver who holds an
      // open offer, and they could be offered a second ride. Release only a hold no offer uses.
      const ride = await rideState(rideId).catch(() => null);
      if (!(ride?.status === 'offered' && ride.offers.some((o) => o.driverId === driverId)))
        await drivers.command(driverId, { type: 'ReleaseOffer', data: { driverId, rideId, at: now() } });
      if (err instanceof DomainError) return 'ride-moved';
      throw err;
    }
  }

  async function rideState(rideId: string) {
    const history = await log.readKey('rides', rideId);
    const state = fold(rideDecider, history);
    if (state.status === 'none') throw new DomainError('NOT_FOUND', 404, `ride ${rideId} not found`);
    return state;
  }

  /**
   * One `consider` per ride at a time in this process (events, timers and the sweep all ask): a call
   * while one runs is folded into one more run after it, which then sees the ride as it is by then.
   */
  const running = new Map<string, { again: boolean; done: Promise<void> }>();
  function consider(rideId: string): Promise<void> {
    const current = running.get(rideId);
    if (current) {
      current.again = true;
      return current.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          await considerOnce(rideId);
        } while (entry.again && !stopped);
      } finally {
        running.delete(rideId);
      }
    })();
    running.set(rideId, entry);
    return entry.done;
  }

  /** Looks at one ride and does what its state calls for: offer, expire, give up, or nothing. */
  async function considerOnce(rideId: string): Promise<void> {
    // One matcher at a time per ride across instances (their sweeps and the matcher group all ask):
    // two at once cannot book a driver twice (the driver hold sees to that) but they waste holds,
    // and a driver briefly held for a ride someone else just offered is missed by other rides.
    const lease = `matching:${rideId}`;
    const holder = await ctx.claims.claim(lease, leaseOwner, LEASE_MS);
    if (holder !== null && holder !== leaseOwner) return later(rideId, options.retryMs);
    try {
      await decide(rideId);
    } finally {
      await ctx.claims.release(lease, leaseOwner).catch(() => undefined);
    }
  }

  async function decide(rideId: string): Promise<void> {
    const ride = await rideState(rideId);
    // An offered ride may still be topped up (fan-out) through the window; it is settled once it leaves matching.
    if (ride.status === 'offered' && fanout > 1) batch?.offered(rideId);
    else if (ride.status !== 'requested') batch?.settled(rideId);
    if (ride.status === 'offered' && ride.offers.length > 0) {
      // Each open offer (several with fan-out) expires on its own; look again when the next one lapses.
      const open = ride.offers.filter((o) => !offerLapsed(o, now()));
      for (const o of ride.offers)
        if (offerLapsed(o, now())) await handle(log, 'rides', rideId, rideDecider, { type: 'ExpireOffer', data: { rideId, driverId: o.driverId, at: now() } });
      if (open.length === 0) return;
      const nextLapse = Math.min(...open.map((o) => o.expiresAt)) - now() + 5;
      // Fan-out short of K (holds failed, or nobody else was free): top the round up. Only from a
      // state with nothing lapsed; the expiries just appended bring their own look.
      const short = open.length === ride.offers.length ? fanout - open.length : 0;
      let stillShort = 0;
      if (short > 0) stillShort = short - (await topUp(rideId, ride, short));
      else batch?.settled(rideId); // nothing to top up (yet): no top-up waits in the window
      // Still short under `nearest`: look again soon, as for a ride with nobody free (`batched`: the window hands it back).
      later(rideId, stillShort > 0 && !batch ? Math.min(nextLapse, options.retryMs) : nextLapse);
      return;
    }
    if (ride.status !== 'requested') return;
    const deadline = ride.requestedAt + options.matchTimeoutMs;
    if (ride.rounds >= policy.maxRounds || now() >= deadline) {
      const { appended } = await handle(log, 'rides', rideId, rideDecider, { type: 'MarkUnmatched', data: { rideId, at: now() } });
      if (appended.length) ctx.metrics.ridesUnmatched.inc();
      batch?.settled(rideId);
      return;
    }
    if (batch) return placeInWindow(rideId, ride);
    const stopTimer = ctx.metrics.matchSeconds.startTimer();
    // The best `fanout` candidates who can be held, each offered in turn (fan-out: one round, K offers).
    let offered = 0;
    for (const candidate of ranked(ride.pickup, ride.passedBy)) {
      const outcome = await tryOffer(rideId, ride.pickup, candidate.driverId, candidate.distanceMeters);
      if (outcome === 'offered' && ++offered < fanout) continue;
      if (outcome === 'offered' || (outcome === 'ride-moved' && offered > 0)) {
        stopTimer();
        later(rideId, policy.offerTimeoutMs + 5);
        return;
      }
      if (outcome === 'ride-moved') return;
    }
    if (offered > 0) {
      stopTimer();
      // Short of K: look again soon to top the round up (decide's `offered` branch).
      later(rideId, Math.min(options.retryMs, policy.offerTimeoutMs + 5));
      return;
    }
    // Nobody free now: look again soon, and no later than the moment the ride is to be given up.
    later(rideId, Math.max(1, Math.min(options.retryMs, deadline - now())));
  }

  /**
   * Fan-out: up to `wanted` more drivers join the ride's open round (the decider lets an offered
   * ride take offers until it has K). `nearest` holds the best-ranked free drivers now; `batched`
   * offers what the window left free for it, or puts the ride in the window as a top-up, served
   * after the rides with no offer. Each is held first, as every offer is. Returns how many joined.
   */
  async function topUp(rideId: string, ride: Ride, wanted: number): Promise<number> {
    const exclude = [...ride.passedBy, ...ride.withdrawn, ...ride.offers.map((o) => o.driverId)];
    const choices = batch
      ? batch.takeTopUp(rideId, exclude).map((c) => ({ driverId: c.driverId, etaSeconds: c.etaSeconds as number | undefined, distance: distanceTo(c.driverId, ride.pickup) }))
      : ranked(ride.pickup, exclude).map((c) => ({ driverId: c.driverId, etaSeconds: undefined, distance: c.distanceMeters }));
    let offered = 0;
    for (const choice of choices) {
      if (offered >= wanted) break;
      const outcome = await tryOffer(rideId, ride.pickup, choice.driverId, choice.distance, choice.etaSeconds);
      if (outcome === 'offered') offered++;
      else if (outcome === 'ride-moved') return offered;
    }
    // Those just held are no longer free, so the window will not propose them again.
    if (batch && offered < wanted) batch.enqueueTopUp(rideId, ride.pickup, exclude, wanted - offered);
    return offered;
  }

  /** `batched`: offer what the window proposed; without a proposal (or if that driver was taken meanwhile), wait for the next window. */
  async function placeInWindow(rideId: string, ride: { pickup: LatLng; passedBy: readonly string[] }): Promise<void> {
    const proposal = batch!.takeProposal(rideId, ride.passedBy);
    if (proposal) {
      // The window's driver first, then (fan-out) its alternates, which the window gave no other ride.
      let offered = 0;
      let moved = false;
      for (const choice of [{ driverId: proposal.driverId, etaSeconds: proposal.etaSeconds }, ...proposal.alternates]) {
        const outcome = await tryOffer(rideId, ride.pickup, choice.driverId, distanceTo(choice.driverId, ride.pickup), choice.etaSeconds);
        if (outcome === 'offered') offered++;
        else if (outcome === 'ride-moved') moved = true;
        // The window's own choice was taken meanwhile: wait for the next window rather than offer only alternates.
        if (offered === 0 || moved) break;
      }
      if (offered > 0) {
        batch!.settled(rideId);
        later(rideId, policy.offerTimeoutMs + 5);
        return;
      }
      if (moved) return;
    }
    batch!.enqueue(rideId, ride.pickup, ride.passedBy);
  }

  return {
    consider,
    /** The `matcher` group's handler: a ride needs a driver again after these events. */
    async onRideEvent(event: Recorded): Promise<void> {
      if (event.type === 'RideRequested' || event.type === 'OfferDeclined' || event.type === 'OfferExpired' || event.type === 'RideOffered')
        await consider(event.metadata.key);
    },
    /** Picks up what timers lost in a crash: rides the read model still shows as waiting. */
    async sweep(rideIds: readonly string[]): Promise<void> {
      // A ride waiting in this instance's window will be looked at when the window closes.
      for (const rideId of rideIds) if (!timers.has(rideId) && !batch?.isWaiting(rideId)) await consider(rideId).catch(() => undefined);
    },
    stop() {
      stopped = true;
      batch?.stop();
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}

export type Matcher = ReturnType<typeof makeMatcher>;
