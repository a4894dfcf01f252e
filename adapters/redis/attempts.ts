import type { RedisClient } from './connection.ts';
import type { AttemptCounter } from '../../domain/ports/attempts.ts';

/** INCRBY and the window's expiry in one step, so a counter never lives without its TTL. */
const HIT_LUA = `
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`;
const PEEK_LUA = `return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1])}`;

/** Attempt counters on Redis, shared by every instance. One key per counter, so it runs on Cluster too. */
export function getRedisAttemptCounter(redis: RedisClient, prefix = 'ridecast:'): AttemptCounter {
  const keyOf = (key: string) => `${prefix}attempts:{${key}}`;
  const asCount = ([count, ttl]: [number, number]) => ({ count, resetInMs: Math.max(0, ttl) });
  return {
    async hit(key, windowMs, by = 1) {
      return asCount((await redis.eval(HIT_LUA, 1, keyOf(key), Math.max(1, Math.ceil(windowMs)), by)) as [number, number]);
    },
    async peek(key) {
      return asCount((await redis.eval(PEEK_LUA, 1, keyOf(key))) as [number, number]);
    },
    async reset(key) {
      await redis.del(keyOf(key));
    },
  };
}
