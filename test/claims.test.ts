import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getInMemoryClaims } from '../adapters/memory/claims.ts';
import { getRedisStores } from '../adapters/redis/stores.ts';
import type { Claims } from '../domain/ports/claims.ts';
import { startRedis, type RedisServer } from './support/redis.ts';

/**
 * Who holds `key`, asked through the port itself: a claim answers the holder and takes nothing; if
 * nobody held it, the probe won, and is released at once.
 */
async function holder(claims: Claims, key: string): Promise<string | null> {
  const probe = `probe-${Math.random().toString(36).slice(2)}`;
  const held = await claims.claim(key, probe);
  if (held === null) await claims.release(key, probe);
  return held;
}

/** The claims port's contract, on every adapter: first writer wins, once, and only the holder releases. */
function claimsContract(name: string, make: () => Claims) {
  describe(`claims on ${name}`, () => {
    let n = 0;
    const key = () => `k${++n}:${Math.random().toString(36).slice(2)}`;

    it('50 parallel claims of one key: exactly one wins, every loser is told the winner', async () => {
      const claims = make();
      const k = key();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => claims.claim(k, `v${i}`, 60_000)));
      const winners = results.map((r, i) => (r === null ? `v${i}` : null)).filter(Boolean);
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => r !== null)).toEqual(Array(49).fill(winners[0]));
      expect(await holder(claims, k)).toBe(winners[0]);
    });

    it('claims and releases racing each other: whoever is told it won really holds the claim', async () => {
      const claims = make();
      const k = key();
      const falseWins: string[] = [];
      for (let round = 0; round < 30; round++) {
        await Promise.all(
          Array.from({ length: 10 }, async (_, i) => {
            const mine = `r${round}v${i}`;
            // Staggered starts, so some claims land while the winner is releasing.
            for (let j = 0; j < i % 4; j++) await claims.release(`${k}:elsewhere`, mine);
            if ((await claims.claim(k, mine)) !== null) return;
            // Nobody else can take or drop it before we release it, so it must be ours.
            const held = await claims.claim(k, `${mine}:probe`);
            if (held !== mine) falseWins.push(`${mine} won but ${held} holds it`);
            if (held === null) await claims.release(k, `${mine}:probe`);
            await claims.release(k, mine);
          }),
        );
      }
      expect(falseWins).toEqual([]);
    });

    it('release drops the claim only for its holder', async () => {
      const claims = make();
      const k = key();
      expect(await claims.claim(k, 'a')).toBeNull();
      await claims.release(k, 'b');
      expect(await holder(claims, k)).toBe('a');
      await claims.release(k, 'a');
      expect(await holder(claims, k)).toBeNull();
      expect(await claims.claim(k, 'b')).toBeNull();
    });
  });
}

claimsContract('memory', () => getInMemoryClaims());

describe('on Redis', () => {
  let server: RedisServer;
  const closers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(closers.map((c) => c()));
    await server?.stop();
  });
  claimsContract('redis', () => {
    const stores = getRedisStores(server.url, `c${Math.random().toString(36).slice(2, 8)}:`, { warn() {} });
    closers.push(stores.close);
    return stores.claims;
  });
});
