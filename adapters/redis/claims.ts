import type { RedisClient } from './connection.ts';
import type { Claims } from '../../domain/ports/claims.ts';

/** Compare-and-delete: only the holder's value releases a claim. */
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Claim-or-read in one step: the holder's value, or nil after setting ours. `SET NX` followed by a
 * separate `GET` could see the key vanish (released, expired) in between and answer "held by nobody"
 * to a loser; one script cannot. (`SET NX GET` does the same from Redis 7; the script runs on 6 too.)
 */
const CLAIM_LUA = `
local held = redis.call('GET', KEYS[1])
if held then return held end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) else redis.call('SET', KEYS[1], ARGV[1]) end
return false`;

/**
 * Claims on Redis: first writer wins once for every instance at the same time. Each claim is its own
 * key (one slot), so it runs unchanged on Redis Cluster.
 */
export function getRedisClaims(redis: RedisClient, prefix = 'ridecast:'): Claims {
  const keyOf = (key: string) => `${prefix}claim:{${key}}`;
  return {
    async claim(key, value, ttlMs) {
      const held = (await redis.eval(CLAIM_LUA, 1, keyOf(key), value, ttlMs ? Math.max(1, Math.ceil(ttlMs)) : 0)) as string | null;
      return held ?? null;
    },
    async release(key, value) {
      await redis.eval(RELEASE_LUA, 1, keyOf(key), value);
    },
  };
}
