import type { ScreeningStore } from '../../domain/ports/screening.ts';
import type { GpsPoint } from '../../domain/tracking/point.ts';
import { openFailFast, type RedisClient, type RedisLocation } from './connection.ts';

export interface RedisScreeningOptions extends RedisLocation {
  readonly prefix: string;
  /** Points kept per driver (the screening window). */
  readonly kept: number;
  /** A driver silent this long is forgotten (their next point is judged alone, as after a restart). */
  readonly ttlMs?: number;
  readonly commandTimeoutMs?: number;
}

const ADD_LUA = `
for i = 3, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
local v = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return v`;
/** The version, and what was added after ARGV[1] (flag 0), or everything kept (flag 1). */
const READ_LUA = `
local v = tonumber(redis.call('GET', KEYS[2]) or '0')
local since = tonumber(ARGV[1])
if since > 0 and v == since then return {v, {}, 0} end
local n = v - since
if since <= 0 or n < 0 or n > tonumber(ARGV[2]) then return {v, redis.call('LRANGE', KEYS[1], 0, -1), 1} end
return {v, redis.call('LRANGE', KEYS[1], -n, -1), 0}`;

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
 * counter, under one hash tag (`{fix:<driver>}`, so drivers spread over a cluster's masters).
 */
export function getRedisScreeningStore(o: RedisScreeningOptions): ScreeningStore & { close(): Promise<void> } {
  const redis = openFailFast(o) as WithScripts;
  redis.defineCommand('ridecastFixAdd', { numberOfKeys: 2, lua: ADD_LUA });
  redis.defineCommand('ridecastFixRead', { numberOfKeys: 2, lua: READ_LUA });
  const ttl = o.ttlMs ?? 3_600_000;
  const keys = (driverId: string) => [`${o.prefix}{fix:${driverId}}:p`, `${o.prefix}{fix:${driverId}}:v`] as const;
  return {
    async read(driverId, since) {
      const [version, points, full] = await redis.ridecastFixRead(...keys(driverId), since, o.kept);
      return { version: Number(version), points: points.map(decode), full: Number(full) === 1 };
    },
    async add(driverId, points) {
      return Number(await redis.ridecastFixAdd(...keys(driverId), o.kept, ttl, ...points.map(encode)));
    },
    async close() {
      if (redis.status === 'ready') await redis.quit().catch(() => undefined);
      redis.disconnect();
    },
  };
}
