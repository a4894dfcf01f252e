import type { Clock } from '../../domain/ports/clock.ts';
import { streams } from '../../domain/ports/event-log.ts';
import type { ScreenedAppend, ScreeningStore } from '../../domain/ports/screening.ts';
import type { GpsPoint } from '../../domain/tracking/point.ts';
import { openFailFast, type RedisClient, type RedisLocation } from './connection.ts';
import type { StreamLayout } from './layout.ts';
import { Cluster } from 'ioredis';
import { makeGroupCommit } from './group-commit.ts';
import { evalScript, luaScript } from './lua.ts';
import { XADD_FACTS_LUA } from './scripts.ts';

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
local function since(list, v, from, kept)
  if from > 0 and v == from then return {v, {}, 0} end
  local n = v - from
  if from <= 0 or n < 0 or n > kept then return {v, redis.call('LRANGE', list, 0, -1), 1} end
  return {v, redis.call('LRANGE', list, -n, -1), 0}
end`;
/** Adds ARGV[first .. last] to the window (its list and version keys); returns the new version. */
const PUSH_LUA = `
local function push(list, version, first, last, kept, ttl)
  redis.call('RPUSH', list, unpack(ARGV, first, last))
  redis.call('LTRIM', list, -kept, -1)
  local v = redis.call('INCR', version)
  redis.call('PEXPIRE', list, ttl)
  redis.call('PEXPIRE', version, ttl)
  return v
end`;
/** KEYS: window list, version. ARGV: kept, ttl, then the encoded points. */
const ADD_LUA = `${PUSH_LUA}
return push(KEYS[1], KEYS[2], 3, #ARGV, tonumber(ARGV[1]), ARGV[2])`;
/** KEYS: window list, version. ARGV: since, kept. */
const READ_LUA = `${SINCE_LUA}
return since(KEYS[1], tonumber(redis.call('GET', KEYS[2]) or '0'), tonumber(ARGV[1]), tonumber(ARGV[2]))`;
/**
 * Compare-and-append for several drivers in one call (group-commit.ts), each as if alone, in order.
 * KEYS: per driver its window list, version and GPS stream (on a cluster every key of a call is in
 * one slot: the shard's tag). ARGV: kept, ttl, shards, maxlen, recordedAtMs, then per driver:
 * expected, shard, driver, point count p, event count e, the p encoded points, the e (type, data)
 * pairs. Per driver, at `expected`: XADD the events, push the points, bump the version, answer
 * {1, version}; else {0, version, points since, full}, writing nothing for that driver.
 */
const APPEND_IF_AT = luaScript(`${SINCE_LUA}
${PUSH_LUA}
${XADD_FACTS_LUA}
local kept, ttl, shards, maxlen, at = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local out, a = {}, 6
for d = 1, #KEYS / 3 do
  local list, version = KEYS[3 * d - 2], KEYS[3 * d - 1]
  local expected, shard, driver = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2]
  local p, e = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local first = a + 5
  a = first + p + 2 * e
  local v = tonumber(redis.call('GET', version) or '0')
  if v ~= expected then
    local r = since(list, v, expected, kept)
    out[d] = {0, r[1], r[2], r[3]}
  elseif p == 0 then
    out[d] = {1, v}
  else
    xaddFacts(KEYS[3 * d], shard, shards, maxlen, driver, at, first + p, e)
    out[d] = {1, push(list, version, first, first + p - 1, kept, ttl)}
  end
end
return out`);

type WithScripts = RedisClient & {
  ridecastFixAdd(points: string, version: string, kept: number, ttl: number, ...encoded: string[]): Promise<number>;
  ridecastFixRead(points: string, version: string, since: number, kept: number): Promise<[number, string[], number]>;
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
  interface Append {
    readonly driverId: string;
    readonly expected: number;
    readonly points: readonly GpsPoint[];
    readonly events: readonly { readonly type: string; readonly data?: unknown }[];
  }
  // One call per lane: one server takes every driver at once; on a cluster a script's keys must
  // share a slot, so a lane is one shard (its tag holds the driver's window and stream).
  const clustered = redis instanceof Cluster;
  const commits = makeGroupCommit<Append, ScreenedAppend>(async (_lane, batch) => {
    const keyList: string[] = [];
    const args: (string | number)[] = [o.kept, ttl, shards, maxLen, clock.now()];
    for (const a of batch) {
      keyList.push(...keys(a.driverId));
      args.push(a.expected, layout.shardOf(gps, a.driverId), a.driverId, a.points.length, a.events.length);
      for (const p of a.points) args.push(encode(p));
      for (const e of a.events) args.push(e.type, JSON.stringify(e.data ?? null));
    }
    const replies = (await evalScript(redis, APPEND_IF_AT, keyList, args)) as [number, number, string[]?, number?][];
    return replies.map(([ok, version, since, full]): ScreenedAppend =>
      Number(ok) === 1
        ? { appended: true, version: Number(version) }
        : { appended: false, version: Number(version), points: (since ?? []).map(decode), full: Number(full) === 1 });
  });
  return {
    ...store,
    appendIfAt: (driverId, expected, points, events) =>
      commits.submit(clustered ? keys(driverId)[2] : 'all', { driverId, expected, points, events }),
  };
}
