import { endpointOf, openRedis, type RedisClient } from '../../adapters/redis/connection.ts';
import { HOLD_GRACE_MS, type DriverEvent } from '../../domain/driver/index.ts';
import { distanceMeters, EARTH_RADIUS_M, type LatLng } from '../../domain/geo.ts';
import { systemClock, type Clock } from '../../domain/ports/clock.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import type { LocationEvent, LocationRecorded } from '../../domain/tracking/events.ts';
import { DRIVER_LUA, LOCATION_LUA, LOCATIONS_LUA, NEARBY_LUA, SWEEP_LUA } from './lua.ts';

export interface RedisGeoOptions {
  /** A connection (or cluster client) to use, not closed by `close()`; or `url` / `clusterNodes` to open one. */
  readonly redis?: RedisClient;
  readonly url?: string;
  /** With `url`: a command unanswered this long fails (a frozen server), so `nearby` answers 503 in seconds. */
  readonly commandTimeoutMs?: number;
  /** A Redis Cluster, by some of its nodes (`host:port`). Every key here shares the hash tag, so one slot. */
  readonly clusterNodes?: readonly string[];
  /**
   * The GEO set of available drivers. Must carry a hash tag (`ridecast:{geo}:drivers`): the
   * companion keys `<key>:seen` and `<key>:state` share it, so every script stays in one slot.
   */
  readonly key?: string;
  /**
   * A driver whose last fix (device time) is older than this is taken off the map (the sweep), and
   * not listed by `nearby` unless the query names its own freshness. Default 60 s.
   */
  readonly staleAfterMs?: number;
  /** First radius `nearby` tries before widening (doubling) up to the asked radius. Default 1 km. */
  readonly initialRadiusM?: number;
  /** Time for placing, sweeping, and for `nearby` when the query names no time. */
  readonly clock?: Clock;
}

export interface NearbyDriver {
  readonly driverId: string;
  /** Where the driver's last fix put them, exactly as recorded (not the geohash cell Redis stores). */
  readonly lat: number;
  readonly lng: number;
  /** By domain/geo.ts `distanceMeters` from those coordinates, as every other transport measures it. */
  readonly distanceM: number;
}

/** Redis measures GEO distances on a 6372797.56 m sphere and rounds members to ~0.6 m geohash cells. */
const REDIS_EARTH_RADIUS_M = 6_372_797.560856;
/** Searches this much wider than asked, so a driver inside the radius by our measure is never missed. */
const widen = (radiusM: number) => (radiusM * REDIS_EARTH_RADIUS_M) / EARTH_RADIUS_M + 2;

export type RedisGeoProjection = ReturnType<typeof makeRedisGeoProjection>;

type GeoCommands = RedisClient & {
  ridecastGeoDriver(...args: (string | number)[]): Promise<number>;
  ridecastGeoLocation(...args: (string | number)[]): Promise<number>;
  ridecastGeoLocations(...args: (string | number)[]): Promise<number>;
  ridecastGeoSweep(...args: (string | number)[]): Promise<[number, number]>;
  ridecastGeoNearby(...args: (string | number)[]): Promise<[string, string, string][]>;
};

const SWEEP_BATCH = 1_000;

/** Opened like every Redis connection of ours (adapters/redis/connection.ts): auto-pipelined, one retry. */
function open({ url, clusterNodes, commandTimeoutMs = 2_000 }: RedisGeoOptions): RedisClient {
  return openRedis(endpointOf({ url, clusterNodes }), { maxRetriesPerRequest: 1, commandTimeout: commandTimeoutMs });
}
const HASH_TAG = /\{[^}]+\}/;

/** A number as Lua gets it back intact (no exponent, full precision). */
const num = (n: number) => (Number.isInteger(n) ? n.toFixed(0) : String(n));

/**
 * The Redis GEO projection of available drivers: who is online and not on a ride, at their latest
 * fix, with the driver decider's state beside them so `nearby` answers "free?" at the time asked.
 * Fed by the `drivers` and `driver-locations` streams (any number of instances, any delivery
 * order between the two streams); every update (or batch of points) is one Lua script on keys of one slot, and each
 * driver's last applied version and fix time make redeliveries change nothing.
 * GEO members have no TTL: call `sweepStale` periodically (or `startSweeping`).
 */
export function makeRedisGeoProjection(options: RedisGeoOptions) {
  const key = options.key ?? 'ridecast:{geo}:drivers';
  if (!HASH_TAG.test(key)) throw new Error(`GEO key "${key}" needs a hash tag such as {geo}, so its companion keys share a slot`);
  const keys = [key, `${key}:seen`, `${key}:state`] as const;
  const staleAfterMs = options.staleAfterMs ?? 60_000;
  const initialRadiusM = options.initialRadiusM ?? 1_000;
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  if (!options.redis && !options.url && !options.clusterNodes?.length) throw new Error('makeRedisGeoProjection needs `redis`, `url` or `clusterNodes`');
  const own = !options.redis;
  const redis = (options.redis ?? open(options)) as GeoCommands;
  redis.defineCommand('ridecastGeoDriver', { numberOfKeys: 3, lua: DRIVER_LUA });
  redis.defineCommand('ridecastGeoLocation', { numberOfKeys: 3, lua: LOCATION_LUA });
  redis.defineCommand('ridecastGeoLocations', { numberOfKeys: 3, lua: LOCATIONS_LUA });
  redis.defineCommand('ridecastGeoSweep', { numberOfKeys: 2, lua: SWEEP_LUA });
  redis.defineCommand('ridecastGeoNearby', { numberOfKeys: 2, lua: NEARBY_LUA });

  /** Free, fresh drivers within `radiusM` by our measure, nearest first, at most `limit`. */
  async function search(at: LatLng, radiusM: number, limit: number, t: number, freshMs: number): Promise<NearbyDriver[]> {
    const reply = await redis.ridecastGeoNearby(
      keys[0], keys[2], num(at.lng), num(at.lat), num(widen(radiusM)), limit, num(t), num(freshMs), num(HOLD_GRACE_MS),
    );
    return reply
      .map(([driverId, lat, lng]) => {
        const p = { lat: Number(lat), lng: Number(lng) };
        return { driverId, ...p, distanceM: distanceMeters(at, p) };
      })
      .filter((d) => d.distanceM <= radiusM)
      .sort((a, b) => a.distanceM - b.distanceM || (a.driverId < b.driverId ? -1 : 1));
  }

  async function sweepStale(at: number = now()): Promise<number> {
    let removed = 0;
    for (;;) {
      const [seen, gone] = await redis.ridecastGeoSweep(keys[0], keys[1], num(at - staleAfterMs), SWEEP_BATCH);
      removed += Number(gone);
      if (Number(seen) < SWEEP_BATCH) return removed;
    }
  }

  return {
    keys: { geo: keys[0], seen: keys[1], state: keys[2] },

    /** Applies a `drivers` stream event. Returns false when it was already applied (or is not a driver event). */
    async onDriverEvent(event: Recorded<DriverEvent>): Promise<boolean> {
      const data = event.data as Partial<{ rideId: string; available: boolean; expiresAt: number }>;
      switch (event.type) {
        case 'DriverAvailabilityChanged':
        case 'DriverOfferHeld':
        case 'DriverOfferReleased':
        case 'DriverAssigned':
        case 'DriverFreed':
          break;
        default:
          return false;
      }
      const applied = await redis.ridecastGeoDriver(
        ...keys, event.metadata.key, event.metadata.version, event.type, data.rideId ?? '',
        data.available === undefined ? '' : data.available ? '1' : '0', num(now()), num(staleAfterMs),
        event.type === 'DriverOfferHeld' && Number.isFinite(data.expiresAt) ? num(data.expiresAt!) : '',
      );
      return Number(applied) === 1;
    },

    /** Applies a `driver-locations` point. Returns false for a redelivered, late or other event. */
    async onLocation(e: Recorded<LocationEvent>): Promise<boolean> {
      if (e.type !== 'LocationRecorded') return false;
      const { driverId, lat, lng, recordedAt } = e.data;
      if (!Number.isFinite(lat) || !Number.isFinite(lng) || !Number.isFinite(recordedAt)) return false;
      const applied = await redis.ridecastGeoLocation(...keys, driverId, num(lat), num(lng), num(recordedAt), num(now()), num(staleAfterMs));
      return Number(applied) === 1;
    },

    /**
     * Applies a batch of `driver-locations` events (a consumer's read) in one script call, in order.
     * Returns how many points moved a driver; others (redelivered, late, not a point) change nothing.
     */
    async onLocations(events: readonly Recorded<LocationEvent>[]): Promise<number> {
      const args: string[] = [num(now()), num(staleAfterMs)];
      for (const e of events) {
        if (e.type !== 'LocationRecorded') continue;
        const { driverId, lat, lng, recordedAt } = e.data;
        if (!Number.isFinite(lat) || !Number.isFinite(lng) || !Number.isFinite(recordedAt)) continue;
        args.push(driverId, num(lat), num(lng), num(recordedAt));
      }
      if (args.length === 2) return 0;
      return Number(await redis.ridecastGeoLocations(...keys, ...args));
    },

    /** Takes drivers whose last fix is older than `staleAfterMs` off the map. Returns how many left it. */
    sweepStale,

    /** Sweeps every `everyMs` until the returned function is called. */
    startSweeping(everyMs = Math.max(1_000, Math.floor(staleAfterMs / 4)), onError: (err: unknown) => void = () => undefined): () => void {
      const timer = setInterval(() => void sweepStale().catch(onError), everyMs);
      timer.unref();
      return () => clearInterval(timer);
    },

    /**
     * Drivers free at `when.now` (the driver decider's rule, applied in the script) with a fix at
     * most `when.freshnessMs` old, within `radiusM` of a point, nearest first, at most `limit`.
     * Searches a small circle first and widens (doubling) until it has `limit` drivers or reaches `radiusM`.
     */
    async nearby(at: LatLng, radiusM: number, limit: number, when: { now?: number; freshnessMs?: number } = {}): Promise<NearbyDriver[]> {
      if (limit <= 0 || radiusM <= 0) return [];
      const t = when.now ?? now();
      const freshMs = when.freshnessMs ?? staleAfterMs;
      for (let r = Math.min(initialRadiusM, radiusM); ; r = Math.min(r * 2, radiusM)) {
        const found = await search(at, r, limit, t, freshMs);
        if (found.length >= limit || r >= radiusM) return found;
      }
    },

    /**
     * What the projection folded for one driver (as `redis-cli HGET <key>:state <id>` shows it):
     * v version applied, a available, o held ride, e its expiry, r ride, t last fix time, lat, lng.
     */
    async stateOf(driverId: string): Promise<Record<'v' | 'a' | 'o' | 'e' | 'r' | 't' | 'lat' | 'lng', string> | null> {
      const raw = await redis.hget(keys[2], driverId);
      return raw ? (JSON.parse(raw) as Record<'v' | 'a' | 'o' | 'e' | 'r' | 't' | 'lat' | 'lng', string>) : null;
    },

    /** How many drivers are on the map (online, not on a ride, fresh at their last update; held ones included). */
    async count(): Promise<number> {
      return redis.zcard(key);
    },

    /** Drops the projection (rebuild). */
    async clear(): Promise<void> {
      await redis.del(...keys);
    },

    async close(): Promise<void> {
      if (!own) return;
      await redis.quit().catch(() => undefined);
      redis.disconnect();
    },
  };
}
