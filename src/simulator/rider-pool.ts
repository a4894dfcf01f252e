import { distanceMeters, type LatLng } from '../../domain/geo.ts';
import { ApiError, FINISHED, type UserSession } from './api-client.ts';
import type { Random } from './random.ts';
import { randomStreetPoint, streetPointNear } from './routing.ts';
import type { StatsBook } from './stats.ts';
import type { StreetGraph } from './streets.ts';

export interface RiderPoolOptions {
  readonly graph: StreetGraph;
  readonly stats: StatsBook;
  readonly rng: Random;
  readonly ridersPerMinute: number;
  readonly cancelProbability: number;
  /** Makes (or reuses) one more rider account; null when none can be had. */
  newRider(): Promise<UserSession | null>;
  readonly maxRiders: number;
  /** Prefix for Idempotency-Key values, unique per run. */
  readonly runId: string;
  readonly tripMeters?: readonly [number, number];
  readonly initialRequests?: number;
}

export interface RiderPool {
  readonly size: number;
  tick(now: number, seconds: number): void;
  /** A status seen elsewhere (by a driver), which spares the rider a poll. */
  noteStatus(rideId: string, status: string): void;
  /** Cancels every ride still open (best effort), so a stopped simulation leaves none waiting; resolves to how many. */
  cancelOpen(): Promise<number>;
}

interface ActiveRide {
  readonly rideId: string;
  status: string;
  lastNewsAt: number;
  cancelAt: number | null;
}

interface Rider {
  readonly session: UserSession;
  ride: ActiveRide | null;
  busy: boolean;
  /** After a 409 RIDE_IN_PROGRESS for a ride we lost track of, the rider sits out a while. */
  restUntil: number;
  requests: number;
}

/** Without news for this long, a rider asks the server how the ride is going. */
const POLL_AFTER_MS = 20_000;

/** Where people are: a few busy places (stations, the old town) and a thinner spread everywhere else. */
function demandModel(tripMeters: readonly [number, number], graph: StreetGraph, rng: Random) {
  const lats = graph.nodes.map((n) => n.lat);
  const lngs = graph.nodes.map((n) => n.lng);
  const [south, north, west, east] = [Math.min(...lats), Math.max(...lats), Math.min(...lngs), Math.max(...lngs)];
  /** Inside the city, `margin` (a share of its size) away from the edge. */
  const inside = (p: LatLng, margin: number) =>
    p.lat >= south + (north - south) * margin && p.lat <= north - (north - south) * margin &&
    p.lng >= west + (east - west) * margin && p.lng <= east - (east - west) * margin;
  const sample = (draw: () => LatLng, margin: number) => {
    for (let i = 0; i < 10; i++) {
      const p = draw();
      if (inside(p, margin)) return p;
    }
    return randomStreetPoint(graph, rng);
  };
  const hotspots = Array.from({ length: 4 }, () => ({ at: sample(() => randomStreetPoint(graph, rng), 0.2), spread: rng.between(250, 600) }));
  // Points that would fall outside the box are drawn again rather than piling up on its edge.
  const around = (p: LatLng, metres: number): LatLng =>
    sample(() => {
      const dNorth = (rng.gaussian() * metres) / 111_320;
      const dEast = (rng.gaussian() * metres) / (111_320 * Math.cos((p.lat * Math.PI) / 180));
      return streetPointNear(graph, { lat: p.lat + dNorth, lng: p.lng + dEast }, rng);
    }, 0.01);
  const somewhere = () => {
    if (!rng.chance(0.65)) return randomStreetPoint(graph, rng);
    const h = rng.pick(hotspots);
    return around(h.at, h.spread);
  };
  return {
    pickup: somewhere,
    /** A dropoff within the trip range (800 m – 4.5 km by default), so trips are minutes, not the whole city. */
    dropoff(pickup: LatLng): LatLng {
      // The draw nearest the range wins when none falls inside it: a narrow range stays honoured.
      const [min, max] = tripMeters;
      const off = (p: LatLng) => {
        const d = distanceMeters(pickup, p);
        return d < min ? min - d : d > max ? d - max : 0;
      };
      let best = somewhere();
      for (let i = 0; i < 40 && off(best) > 0; i++) {
        const next = rng.chance(0.5) ? somewhere() : around(pickup, max);
        if (off(next) < off(best)) best = next;
      }
      return best;
    },
  };
}

export function createRiderPool(opts: RiderPoolOptions): RiderPool {
  const { rng, stats } = opts;
  const riders: Rider[] = [];
  const byRide = new Map<string, Rider>();
  const demand = demandModel(opts.tripMeters ?? [800, 4_500], opts.graph, rng);
  let creating = 0;
  let owed = opts.initialRequests ?? 0;

  const settle = (rider: Rider, status: string, now: number) => {
    const ride = rider.ride;
    if (!ride) return;
    ride.lastNewsAt = now;
    if (ride.status === status) return;
    ride.status = status;
    if (!FINISHED.has(status)) return;
    if (status === 'unmatched') stats.count('ridesUnmatched'), stats.dispatch.unmatched(ride.rideId, Date.now());
    byRide.delete(ride.rideId);
    rider.ride = null;
  };

  const request = (rider: Rider, now: number) => {
    const pickup = demand.pickup();
    const dropoff = demand.dropoff(pickup);
    rider.busy = true;
    const key = `${opts.runId}-${riders.indexOf(rider)}-${++rider.requests}`;
    rider.session
      .rides.request({ pickup, dropoff }, { idempotencyKey: key })
      .then(({ rideId, status }) => {
        stats.count('ridesRequested');
        stats.dispatch.requested(rideId, Date.now());
        const cancelAt = rng.chance(opts.cancelProbability) ? now + rng.between(5_000, 90_000) : null;
        rider.ride = { rideId, status, lastNewsAt: now, cancelAt };
        byRide.set(rideId, rider);
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.code === 'RIDE_IN_PROGRESS') rider.restUntil = now + 120_000;
      })
      .finally(() => (rider.busy = false));
  };

  const cancel = (rider: Rider, ride: ActiveRide, now: number) => {
    ride.cancelAt = null;
    rider.busy = true;
    rider.session
      .rides.cancel(ride.rideId, 'changed my mind')
      .then(() => {
        stats.count('ridesCancelled');
        settle(rider, 'cancelled', now);
      })
      .catch(() => {})
      .finally(() => (rider.busy = false));
  };

  const poll = (rider: Rider, ride: ActiveRide, now: number) => {
    rider.busy = true;
    ride.lastNewsAt = now;
    rider.session
      .rides.get(ride.rideId)
      .then((view) => settle(rider, view.status, Date.now()))
      .catch((err: unknown) => {
        if (err instanceof ApiError && (err.status === 404 || err.status === 403)) settle(rider, 'cancelled', Date.now());
      })
      .finally(() => (rider.busy = false));
  };

  const grow = () => {
    creating++;
    opts
      .newRider()
      .then((session) => {
        if (session) riders.push({ session, ride: null, busy: false, restUntil: 0, requests: 0 });
      })
      .catch(() => {})
      .finally(() => creating--);
  };

  return {
    get size() {
      return riders.length;
    },
    tick(now, seconds) {
      // Requests arrive as a Poisson process; ones that find no free rider wait (a few at most).
      owed = Math.min(owed + rng.poisson((opts.ridersPerMinute * seconds) / 60), 20);
      for (const rider of riders) {
        if (rider.busy) continue;
        const ride = rider.ride;
        if (ride) {
          const cancellable = ride.status === 'requested' || ride.status === 'offered' || ride.status === 'accepted' || ride.status === 'arrived';
          if (ride.cancelAt !== null && now >= ride.cancelAt && cancellable) cancel(rider, ride, now);
          else if (now - ride.lastNewsAt > POLL_AFTER_MS) poll(rider, ride, now);
        } else if (owed > 0 && now >= rider.restUntil) {
          owed--;
          request(rider, now);
        }
      }
      // New riders sign up while demand outruns the ones we have, a few at a time.
      while (owed > creating && creating < 4 && riders.length + creating < opts.maxRiders) grow();
    },
    noteStatus(rideId, status) {
      const rider = byRide.get(rideId);
      if (rider) settle(rider, status, Date.now());
    },
    async cancelOpen() {
      const open = [...byRide.entries()];
      const done = await Promise.allSettled(
        open.map(async ([rideId, rider]) => {
          await rider.session.rides.cancel(rideId, 'simulation stopped').catch(async (err: unknown) => {
            // Already over (completed or cancelled meanwhile): nothing left to do.
            if (!(err instanceof ApiError && err.status === 409)) throw err;
          });
          settle(rider, 'cancelled', Date.now());
        }),
      );
      return done.filter((d) => d.status === 'fulfilled').length;
    },
  };
}
