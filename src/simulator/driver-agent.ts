import { isLatLng, type LatLng } from '../../domain/geo.ts';
import type { LiveStream, RideOfferEvent, StreamMessage } from '../client/index.ts';
import { ApiError, type UserSession } from './api-client.ts';
import { createLocationReporter } from './location-reporter.ts';
import { followRoute, gpsFix, type Motion, type RouteFollower } from './movement.ts';
import type { Random } from './random.ts';
import { routeBetween, streetPointNear } from './routing.ts';
import type { StatsBook } from './stats.ts';
import type { StreetGraph } from './streets.ts';

/** What every driver shares with the fleet. */
export interface DriverContext {
  readonly baseUrl: string;
  readonly graph: StreetGraph;
  readonly stats: StatsBook;
  readonly acceptProbability: number;
  readonly offlineChancePerMinute: number;
  /** True when too many requests are in flight: optional traffic (location posts) waits. */
  congested(): boolean;
  /** News about a ride, so its simulated rider knows without asking the server. */
  onRideStatus(rideId: string, status: string): void;
}

export type DriverStatus = 'offline' | 'available' | 'on_trip';

export interface DriverAgent {
  readonly status: DriverStatus;
  readonly connected: boolean;
  /** Goes online and opens the driver's socket. */
  start(): Promise<void>;
  /**
   * Advances the car by `seconds` of driving and takes whatever decision is due; `now` is the
   * simulation clock (ms) that waits are measured on. Never throws.
   */
  tick(now: number, seconds: number): void;
  /** Closes the socket and goes offline (best effort). */
  stop(): Promise<void>;
}

interface Job {
  readonly rideId: string;
  readonly pickup: LatLng;
  readonly dropoff: LatLng;
  failures: number;
}

type Phase =
  | { kind: 'offline'; until: number }
  | { kind: 'idle'; follower: RouteFollower | null; parkedUntil: number }
  | { kind: 'accepting'; rideId: string }
  | { kind: 'to_pickup'; job: Job; follower: RouteFollower }
  | { kind: 'boarding'; job: Job; until: number }
  | { kind: 'on_trip'; job: Job; follower: RouteFollower };

/** A refusal that retrying will not change: the ride was cancelled, taken or is not ours. */
const isFinalRefusal = (err: unknown) => err instanceof ApiError && [403, 404, 409].includes(err.status);

export function createDriverAgent(session: UserSession, ctx: DriverContext, rng: Random, startAt: LatLng): DriverAgent {
  let phase: Phase = { kind: 'idle', follower: null, parkedUntil: 0 };
  let motion: Motion = { position: startAt, heading: rng.between(0, 360), speed: 0 };
  let busy = false;
  let stopped = false;
  let clock = 0;
  let stream: LiveStream | null = null;
  const reporter = createLocationReporter(session, ctx.stats, rng);
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) fn();
    }, ms);
    timers.add(t);
  };

  /** Runs one call at a time per driver; failures are already counted by the client. */
  const act = (call: () => Promise<void>, onFailure: (err: unknown) => unknown = () => {}) => {
    busy = true;
    call()
      .catch(onFailure)
      .catch(() => {})
      .finally(() => (busy = false));
  };

  const setAvailability = (available: boolean) => session.drivers.setAvailability(available);

  const finishJob = (rideId: string) => {
    stream?.unfollow(rideId);
    phase = { kind: 'idle', follower: null, parkedUntil: clock + rng.between(5_000, 30_000) };
  };

  const currentJob = (): Job | null => ('job' in phase ? phase.job : null);

  const drive = (to: LatLng) => followRoute(routeBetween(ctx.graph, motion.position, to), rng);

  /**
   * One step of a trip. A refusal (409/404/403) is checked against the ride itself: if it is
   * already where the step leads (say, arrival detected from GPS), carry on; otherwise the
   * ride is gone (cancelled, reassigned) and the driver is free again.
   */
  const step = (p: Phase & { job: Job }, action: 'arrive' | 'start' | 'complete', leadsTo: string, next: () => void) => {
    act(
      async () => {
        await session.rides[action](p.job.rideId);
        if (phase === p) next();
      },
      async (err: unknown) => {
        if (!isFinalRefusal(err)) {
          if (++p.job.failures > 5 && phase === p) finishJob(p.job.rideId);
          return;
        }
        const view = await session.rides.get(p.job.rideId).catch(() => null);
        if (phase !== p) return;
        if (view?.status === leadsTo) next();
        else finishJob(p.job.rideId);
      },
    );
  };

  const decide = (now: number, seconds: number) => {
    const p = phase;
    switch (p.kind) {
      case 'offline':
        if (now >= p.until) act(async () => {
          await setAvailability(true);
          phase = { kind: 'idle', follower: null, parkedUntil: 0 };
        });
        return;
      case 'idle':
        if (rng.chance((ctx.offlineChancePerMinute * seconds) / 60)) {
          act(async () => {
            await setAvailability(false);
            if (phase.kind !== 'idle') return;
            phase = { kind: 'offline', until: now + rng.between(60_000, 300_000) };
            reporter.clear();
          });
        } else if ((!p.follower || p.follower.arrived) && now >= p.parkedUntil) {
          // Idle drivers cruise a few blocks or wait at the kerb, as real ones do between fares.
          if (rng.chance(0.4)) phase = { kind: 'idle', follower: null, parkedUntil: now + rng.between(20_000, 90_000) };
          else {
            const r = rng.between(300, 1500) / 111_320;
            const a = rng.between(0, 2 * Math.PI);
            const near = { lat: motion.position.lat + r * Math.sin(a), lng: motion.position.lng + r * Math.cos(a) };
            phase = { kind: 'idle', follower: drive(streetPointNear(ctx.graph, near, rng)), parkedUntil: 0 };
          }
        }
        return;
      case 'to_pickup':
        if (p.follower.arrived) {
          // The car is at the pickup now, whenever the server hears of it.
          ctx.stats.dispatch.pickedUp(p.job.rideId, Date.now());
          step(p, 'arrive', 'arrived', () => (phase = { kind: 'boarding', job: p.job, until: now + rng.between(5_000, 20_000) }));
        }
        return;
      case 'boarding':
        if (now >= p.until) step(p, 'start', 'in_progress', () => (phase = { kind: 'on_trip', job: p.job, follower: drive(p.job.dropoff) }));
        return;
      case 'on_trip':
        if (p.follower.arrived) step(p, 'complete', 'completed', () => {
          ctx.stats.count('ridesCompleted');
          ctx.onRideStatus(p.job.rideId, 'completed');
          finishJob(p.job.rideId);
        });
        return;
      case 'accepting':
        return;
    }
  };

  const onOffer = (m: RideOfferEvent) => {
    const { rideId, pickup, dropoff } = m;
    if (typeof rideId !== 'string' || !pickup || !dropoff || !isLatLng(pickup) || !isLatLng(dropoff)) return;
    ctx.stats.count('offersReceived');
    ctx.stats.dispatch.offered(rideId, Date.now());
    const etaSeconds = typeof m.etaSeconds === 'number' ? m.etaSeconds : NaN;
    const expiresAt = typeof m.expiresAt === 'string' ? new Date(m.expiresAt).getTime() : NaN;
    const window = Number.isFinite(expiresAt) ? Math.max(0, expiresAt - Date.now() - 500) : 3_000;
    const think = Math.min(window, rng.between(800, 3_000));
    if (phase.kind !== 'idle' || busy || !rng.chance(ctx.acceptProbability)) {
      ctx.stats.count('offersDeclined');
      ctx.stats.dispatch.declined();
      later(think, () => void session.rides.decline(rideId).catch(() => {}));
      return;
    }
    phase = { kind: 'accepting', rideId };
    later(think, () =>
      act(
        async () => {
          await session.rides.accept(rideId);
          ctx.stats.count('offersAccepted');
          ctx.stats.dispatch.accepted(rideId, Date.now(), etaSeconds);
          ctx.onRideStatus(rideId, 'accepted');
          stream?.follow(rideId);
          phase = { kind: 'to_pickup', job: { rideId, pickup, dropoff, failures: 0 }, follower: drive(pickup) };
        },
        () => (phase = { kind: 'idle', follower: null, parkedUntil: 0 }),
      ),
    );
  };

  const onMessage = (m: StreamMessage) => {
    if (m.type === 'ride.offer') return onOffer(m);
    if (m.type !== 'ride.status' || typeof m.rideId !== 'string' || typeof m.status !== 'string') return;
    ctx.onRideStatus(m.rideId, m.status);
    if ((m.status === 'cancelled' || m.status === 'unmatched') && currentJob()?.rideId === m.rideId) finishJob(m.rideId);
  };

  return {
    get status(): DriverStatus {
      return phase.kind === 'offline' ? 'offline' : phase.kind === 'idle' || phase.kind === 'accepting' ? 'available' : 'on_trip';
    },
    get connected() {
      return stream?.connected ?? false;
    },
    async start() {
      await setAvailability(true);
      // The SDK's stream follows the ride in hand again after a reconnect, so a cancellation is not missed.
      stream = session.stream({ onMessage });
    },
    tick(now, seconds) {
      if (stopped) return;
      clock = now;
      const p = phase;
      motion = 'follower' in p && p.follower ? p.follower.advance(seconds) : { ...motion, speed: 0 };
      if (p.kind !== 'offline') reporter.record(gpsFix(motion, rng, new Date()));
      if (!busy) decide(now, seconds);
      // Posting follows the wall clock whatever the simulation speed: it is load on a real server.
      reporter.maybeFlush(Date.now(), phase.kind !== 'offline' && !ctx.congested());
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      stream?.close();
      if (phase.kind !== 'offline') await setAvailability(false).catch(() => {});
    },
  };
}
