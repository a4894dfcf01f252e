import { Cluster, Redis } from 'ioredis';
import type { DriverEvent } from '../../domain/driver/index.ts';
import type { LatLng } from '../../domain/geo.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import type { LocationEvent, LocationRecorded } from '../../domain/tracking/events.ts';

export interface RedisGeoOptions {
  /** A connection (or cluster client) to use, not closed by `close()`; or `url` / `clusterNodes` to open one. */
  readonly redis?: Redis | Cluster;
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
  /** A driver whose last fix (device time) is older than this is taken off the map. Default 60 s. */
  readonly staleAfterMs?: number;
  /** First radius `nearby` tries before widening (doubling) up to the asked radius. Default 1 km. */
  readonly initialRadiusM?: number;
  readonly now?: () => number;
}

export interface NearbyDriver {
  readonly driverId: string;
  readonly lat: number;
  readonly lng: number;
  /** As Redis measures it (haversine on its own earth radius), metres. */
  readonly distanceM: number;
}

export type RedisGeoProjection = ReturnType<typeof makeRedisGeoProjection>;

/** Per-driver state kept in `<key>:state` (JSON, all strings: readable with redis-cli HGET). */
const STATE = `
local function load(id)
  local raw = redis.call('HGET', KEYS[3], id)
  if raw then return cjson.decode(raw) end
  return { v = '0', a = '0', o = '', r = '', t = '', lat = '', lng = '' }
end
-- On the map exactly when online, free, with a fix that is not stale and Redis can index.
local function place(id, s, now, staleAfter)
  local lat = tonumber(s.lat)
  local fresh = s.t ~= '' and tonumber(s.t) >= now - staleAfter
  if s.a == '1' and s.o == '' and s.r == '' and lat and lat >= -85.05112878 and lat <= 85.05112878 and fresh then
    redis.call('GEOADD', KEYS[1], s.lng, s.lat, id)
    redis.call('ZADD', KEYS[2], s.t, id)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
`;

/**
 * KEYS: geo, seen, state. ARGV: driverId, version, type, rideId, available ('1'|'0'|''), now, staleAfterMs.
 * Returns 0 for an event at or below the driver's applied version (redelivery, replay), else 1.
 */
const DRIVER_LUA = `${STATE}
local id = ARGV[1]
local s = load(id)
local version = tonumber(ARGV[2])
if version <= tonumber(s.v) then return 0 end
s.v = ARGV[2]
local kind, ride = ARGV[3], ARGV[4]
if kind == 'DriverAvailabilityChanged' then s.a = ARGV[5]
elseif kind == 'DriverOfferHeld' then s.o = ride
elseif kind == 'DriverOfferReleased' then if s.o == ride then s.o = '' end
elseif kind == 'DriverAssigned' then s.o = ''; s.r = ride
elseif kind == 'DriverFreed' then if s.r == ride then s.r = '' end
end
redis.call('HSET', KEYS[3], id, cjson.encode(s))
place(id, s, tonumber(ARGV[6]), tonumber(ARGV[7]))
return 1
`;

/**
 * A point not newer (device time) than the driver's last one changes nothing: a redelivery or a late
 * point never moves the driver back. Else records the fix and places the driver. Returns 1 if applied.
 */
const LOCATE = `${STATE}
local function locate(id, lat, lng, t, now, staleAfter)
  local s = load(id)
  if s.t ~= '' and tonumber(t) <= tonumber(s.t) then return 0 end
  s.lat = lat; s.lng = lng; s.t = t
  redis.call('HSET', KEYS[3], id, cjson.encode(s))
  redis.call('ZADD', KEYS[2], s.t, id)
  place(id, s, now, staleAfter)
  return 1
end
`;

/** KEYS: geo, seen, state. ARGV: driverId, lat, lng, recordedAt, now, staleAfterMs. Returns 1 if applied. */
const LOCATION_LUA = `${LOCATE}
return locate(ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
`;

/**
 * A batch of points in one call (a consumer's read): KEYS: geo, seen, state. ARGV: now, staleAfterMs,
 * then driverId, lat, lng, recordedAt per point, in log order. Returns how many were applied.
 */
const LOCATIONS_LUA = `${LOCATE}
local now, staleAfter, applied = tonumber(ARGV[1]), tonumber(ARGV[2]), 0
for i = 3, #ARGV, 4 do
  applied = applied + locate(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], now, staleAfter)
end
return applied
`;

/** KEYS: geo, seen. ARGV: cutoff (exclusive), batch. Removes up to `batch` drivers last seen before cutoff. */
const SWEEP_LUA = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #ids == 0 then return { 0, 0 } end
local removed = redis.call('ZREM', KEYS[1], unpack(ids))
redis.call('ZREM', KEYS[2], unpack(ids))
return { #ids, removed }
`;

type GeoCommands = (Redis | Cluster) & {
  ridecastGeoDriver(...args: (string | number)[]): Promise<number>;
  ridecastGeoLocation(...args: (string | number)[]): Promise<number>;
  ridecastGeoLocations(...args: (string | number)[]): Promise<number>;
  ridecastGeoSweep(...args: (string | number)[]): Promise<[number, number]>;
};

const SWEEP_BATCH = 1_000;

function open({ url, clusterNodes, commandTimeoutMs = 2_000 }: RedisGeoOptions): Redis | Cluster {
  const perNode = { protocol: 2 as const, maxRetriesPerRequest: 1, commandTimeout: commandTimeoutMs };
  if (!clusterNodes?.length) return new Redis(url!, perNode);
  const nodes = clusterNodes.map((n) => {
    const i = n.lastIndexOf(':');
    return { host: n.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(n.slice(i + 1)) };
  });
  return new Cluster(nodes, { redisOptions: perNode, retryDelayOnFailover: 100, retryDelayOnClusterDown: 100 });
}
const HASH_TAG = /\{[^}]+\}/;

/** A number as Lua gets it back intact (no exponent, full precision). */
const num = (n: number) => (Number.isInteger(n) ? n.toFixed(0) : String(n));

/**
 * The Redis GEO projection of available drivers: who is online and free, at their latest fix.
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
  const now = options.now ?? Date.now;
  if (!options.redis && !options.url && !options.clusterNodes?.length) throw new Error('makeRedisGeoProjection needs `redis`, `url` or `clusterNodes`');
  const own = !options.redis;
  const redis = (options.redis ?? open(options)) as GeoCommands;
  redis.defineCommand('ridecastGeoDriver', { numberOfKeys: 3, lua: DRIVER_LUA });
  redis.defineCommand('ridecastGeoLocation', { numberOfKeys: 3, lua: LOCATION_LUA });
  redis.defineCommand('ridecastGeoLocations', { numberOfKeys: 3, lua: LOCATIONS_LUA });
  redis.defineCommand('ridecastGeoSweep', { numberOfKeys: 2, lua: SWEEP_LUA });

  async function search(at: LatLng, radiusM: number, limit: number): Promise<NearbyDriver[]> {
    const reply = (await redis.call(
      'GEOSEARCH', key, 'FROMLONLAT', num(at.lng), num(at.lat), 'BYRADIUS', num(radiusM), 'm', 'ASC', 'COUNT', limit, 'WITHDIST', 'WITHCOORD',
    )) as [string, string | number, [string | number, string | number]][];
    return reply.map(([driverId, dist, [lng, lat]]) => ({ driverId, lat: Number(lat), lng: Number(lng), distanceM: Number(dist) }));
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
      const data = event.data as Partial<{ rideId: string; available: boolean }>;
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
     * Available drivers within `radiusM` of a point, nearest first, at most `limit`. Searches a small
     * circle first and widens (doubling) until it has `limit` drivers or reaches `radiusM`.
     */
    async nearby(at: LatLng, radiusM: number, limit: number): Promise<NearbyDriver[]> {
      if (limit <= 0 || radiusM <= 0) return [];
      for (let r = Math.min(initialRadiusM, radiusM); ; r = Math.min(r * 2, radiusM)) {
        const found = await search(at, r, limit);
        if (found.length >= limit || r >= radiusM) return found;
      }
    },

    /** How many drivers are on the map. */
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
