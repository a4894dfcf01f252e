import type { Redis } from 'ioredis';
import type { Claims } from '../../domain/ports/claims.ts';

/** Compare-and-delete: only the holder's value releases a claim. */
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Claims on Redis: `SET NX` wins once for every instance at the same time. Each claim is its own
 * key (one slot), so it runs unchanged on Redis Cluster.
 */
export function getRedisClaims(redis: Redis, prefix = 'ridecast:'): Claims {
  const keyOf = (key: string) => `${prefix}claim:{${key}}`;
  return {
    async claim(key, value, ttlMs) {
      const won = ttlMs ? await redis.set(keyOf(key), value, 'PX', ttlMs, 'NX') : await redis.set(keyOf(key), value, 'NX');
      return won === 'OK' ? null : ((await redis.get(keyOf(key))) ?? null);
    },
    async get(key) {
      return redis.get(keyOf(key));
    },
    async release(key, value) {
      await redis.eval(RELEASE_LUA, 1, keyOf(key), value);
    },
  };
}
