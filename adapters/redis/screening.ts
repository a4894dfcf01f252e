import type { Clock } from '../../domain/ports/clock.ts';
import { streams } from '../../domain/ports/event-log.ts';
import type { ScreenedAppend, ScreeningStore } from '../../domain/ports/screening.ts';
import type { GpsPoint } from '../../domain/tracking/point.ts';
import { openFailFast, type RedisClient, type RedisLocation } from './connection.ts';
import type { StreamLayout } from './layout.ts';
import { XADD_FACTS_BODY } from './scripts.ts';

export interface RedisScreeningOptions extends RedisLocation {
  readonly prefix: string;
  /** Points kept per driver (the screening window). */
  readonly kept: number;
  /** A driver silent this long is forgotten (their next point is judged alone, as after a restart). */
  readonly ttlMs?: number;
  readonly commandTimeoutMs?: number;
  /**
   * A fail-fast connection to use (not closed by `close()`), shared with the other commands of a GPS
   * point (src/infrastructure.ts) so they leave in one auto-pipelined write; default one of its own.
   */
  readonly redis?: RedisClient;
  /**
   * The GPS stream is on this Redis too (TRANSPORT=redis), laid out as the event log's: each window
   * then lives in the hash slot of its driver's shard, and `appendIfAt` appends beside it.
   */
  readonly log?: { readonly layout: StreamLayout; readonly clock: Clock };
}

/** What the window gained after version `since` (flag 0), or everything kept (flag 1); `v` the version now. */
const SINCE_LUA = `
local function since(v, from, kept)
  if from > 0 and v == from then return {v, {}, 0} end
  local n = v - from
  if from <= 0 or n < 0 or n > kept then return {v, redis.call('LRANGE', KEYS[1], 0, -1), 1} end
  return {v, redis.call('LRANGE', KEYS[1], -n, -1), 0}
end`;
/** Adds ARGV[first .. last] to the window; returns the new version. */
const PUSH_LUA = `
local function push(first, last, kept, ttl)
  redis.call('RPUSH', KEYS[1], unpack(ARGV, first, last))
  redis.call('LTRIM', KEYS[1], -kept, -1)
  local v = redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  return v
end`;
/** KEYS: window list, version. ARGV: kept, ttl, then the encoded points. */
const ADD_LUA = `${PUSH_LUA}
return push(3, #ARGV, tonumber(ARGV[1]), ARGV[2])`;
/** KEYS: window list, version. ARGV: since, kept. */
const READ_LUA = `${SINCE_LUA}
return since(tonumber(redis.call('GET', KEYS[2]) or '0'), tonumber(ARGV[1]), tonumber(ARGV[2]))`;
/**
 * Compare-and-append. KEYS: window list, version, the driver's GPS stream (one slot: the shard's tag).
 * ARGV: expected, kept, ttl, shard, shards, maxlen, driver, recordedAtMs, point count p, then p encoded
 * points, then (type, data) per event. At `expected`: XADD the events, push the points, bump the
 * version, and answer {1, version}; else answer {0, version, points since, full} and write nothing.
 */
const APPEND_IF_AT_LUA = `${SINCE_LUA}
${PUSH_LUA}
local function xaddFacts(stream, shard, shards, maxlen, key, at, first)
${XADD_FACTS_BODY}
end
local v = tonumber(redis.call('GET', KEYS[2]) or '0')
local expected = tonumber(ARGV[1])
if v ~= expected then
  local r = since(v, expected, tonumber(ARGV[2]))
  return {0, r[1], r[2], r[3]}
end
local p = tonumber(ARGV[9])
if p == 0 then return {1, v} end
xaddFacts(KEYS[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8], 10 + p)
return {1, push(10, 9 + p, tonumber(ARGV[2]), ARGV[3])}`;

type WithScripts = RedisClient & {
  ridecastFixAdd(points: string, version: string, kept: number, ttl: number, ...encoded: string[]): Promise<number>;
  ridecastFixRead(points: string, version: string, since: number, kept: number): Promise<[number, string[], number]>;
  ridecastFixAppend(points: string, version: string, stream: string, ...args: (string | number)[]): Promise<[number, number, string[]?, number?]>;
};

const encode = (p: GpsPoint) => JSON.stringify([p.lat, p.lng, p.recordedAt, p.heading, p.speed, p.accuracy]);
function decode(s: string): GpsPoint {
  const [lat, lng, recordedAt, heading, speed, accuracy] = JSON.parse(s) as [number, number, number, number | null, number | null, number | null];
  return { lat, lng, recordedAt, heading, speed, accuracy };
}

/**
 * Screening neighbours in Redis: per driver a list of the last accepted points and a version
 * counter. Beside the GPS stream (`log`), under the driver's shard's hash tag
 * (`{driver-locations:n}:fix:<driver>`), so one script can check the window and append; else under
 * the driver's own tag (`{fix:<driver>}`, so drivers spread over a cluster's masters).
 */
export function getRedisScreeningStore(o: RedisScreeningOptions): ScreeningStore & { close(): Promise<void> } {
  const redis = (o.redis ?? openFailFast(o)) as WithScripts;
  redis.defineCommand('ridecastFixAdd', { numberOfKeys: 2, lua: ADD_LUA });
  redis.defineCommand('ridecastFixRead', { numberOfKeys: 2, lua: READ_LUA });
  redis.defineCommand('ridecastFixAppend', { numberOfKeys: 3, lua: APPEND_IF_AT_LUA });
  const ttl = o.ttlMs ?? 3_600_000;
  const gps = streams['driver-locations'];
  /** The window's list and version, then (beside the log) the driver's GPS stream. */
  const keys = (driverId: string) => {
    const stream = o.log ? o.log.layout.keysFor(gps, driverId).stream : '';
    const base = o.log ? `${stream}:fix:${driverId}` : `${o.prefix}{fix:${driverId}}`;
    return [`${base}:p`, `${base}:v`, stream] as const;
  };
  const store: ScreeningStore & { close(): Promise<void> } = {
    async read(driverId, since) {
      const [list, counter] = keys(driverId);
      const [version, points, full] = await redis.ridecastFixRead(list, counter, since, o.kept);
      return { version: Number(version), points: points.map(decode), full: Number(full) === 1 };
    },
    async add(driverId, points) {
      const [list, counter] = keys(driverId);
      return Number(await redis.ridecastFixAdd(list, counter, o.kept, ttl, ...points.map(encode)));
    },
    async close() {
      if (o.redis) return;
      if (redis.status === 'ready') await redis.quit().catch(() => undefined);
      redis.disconnect();
    },
  };
  if (!o.log) return store;
  const { layout, clock } = o.log;
  const maxLen = layout.maxLenOf(gps) ?? '';
  const shards = layout.shardsOf(gps);
  return {
    ...store,
    async appendIfAt(driverId, expected, points, events): Promise<ScreenedAppend> {
      const args: (string | number)[] = [expected, o.kept, ttl, layout.shardOf(gps, driverId), shards, maxLen, driverId, clock.now(), points.length];
      for (const p of points) args.push(encode(p));
      for (const e of events) args.push(e.type, JSON.stringify(e.data ?? null));
      const [ok, version, since, full] = await redis.ridecastFixAppend(...keys(driverId), ...args);
      if (Number(ok) === 1) return { appended: true, version: Number(version) };
      return { appended: false, version: Number(version), points: (since ?? []).map(decode), full: Number(full) === 1 };
    },
  };
}
