// Issue 15, session 7: the screening store's compare-and-append goes out as a group commit. Appends of
// several drivers made together, or while a call is in flight, are ONE script call (one socket write,
// one Lua call), and each driver still gets its own compare-and-append answer. At 2,000 points a
// second, open loop, a point usually arrives alone in its turn of the event loop, so batching per
// turn (auto-pipelining) left one call and one write per point.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeGroupCommit } from '../adapters/redis/group-commit.ts';
import { streamLayout } from '../adapters/redis/layout.ts';
import { getRedisScreeningStore } from '../adapters/redis/screening.ts';
import { shardKeysOf } from '../adapters/redis/scripts.ts';
import { systemClock } from '../domain/ports/clock.ts';
import type { GpsPoint } from '../domain/tracking/point.ts';
import { startRedisCluster, type RedisCluster } from './support/redis-cluster.ts';
import { useRedis } from './support/redis.ts';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('group commit', () => {
  function recording(reply = (lane: string, batch: readonly number[]) => Promise.resolve(batch.map((n) => `${lane}:${n}`))) {
    const calls: [string, number[]][] = [];
    const release: (() => void)[] = [];
    const commit = makeGroupCommit<number, string>(async (lane, batch) => {
      calls.push([lane, [...batch]]);
      await new Promise<void>((r) => release.push(r));
      return reply(lane, batch);
    }, { maxBatch: 3 });
    return { calls, release, commit };
  }

  it('sends what one turn asked for as one call, and what came while it was in flight as the next', async () => {
    const { calls, release, commit } = recording();
    const first = [commit.submit('a', 1), commit.submit('a', 2)];
    await tick();
    expect(calls).toEqual([['a', [1, 2]]]);
    const later = [commit.submit('a', 3), commit.submit('a', 4)];
    await tick();
    expect(calls).toHaveLength(1); // nothing leaves while the first call is out
    release.shift()!();
    expect(await Promise.all(first)).toEqual(['a:1', 'a:2']);
    await tick();
    expect(calls[1]).toEqual(['a', [3, 4]]);
    release.shift()!();
    expect(await Promise.all(later)).toEqual(['a:3', 'a:4']);
  });

  it('keeps lanes apart, and splits a long queue into calls of at most maxBatch', async () => {
    const { calls, release, commit } = recording();
    const all = [1, 2, 3, 4, 5].map((n) => commit.submit('a', n));
    const other = commit.submit('b', 9);
    await tick();
    expect(calls).toEqual([['a', [1, 2, 3]], ['b', [9]]]);
    release.shift()!();
    release.shift()!();
    await new Promise((r) => setTimeout(r, 5));
    expect(calls[2]).toEqual(['a', [4, 5]]);
    release.shift()!();
    expect(await Promise.all([...all, other])).toEqual(['a:1', 'a:2', 'a:3', 'a:4', 'a:5', 'b:9']);
  });

  it('fails every request of a failed call with its error, and goes on with the next', async () => {
    let fail = true;
    const { calls, release, commit } = recording((lane, batch) => (fail ? Promise.reject(new Error('READONLY')) : Promise.resolve(batch.map(String))));
    const failed = [commit.submit('a', 1), commit.submit('a', 2)].map((p) => p.catch((e: Error) => e.message));
    await tick();
    const next = commit.submit('a', 3);
    fail = true;
    release.shift()!();
    expect(await Promise.all(failed)).toEqual(['READONLY', 'READONLY']);
    fail = false;
    await tick();
    release.shift()!();
    expect(await next).toBe('3');
    expect(calls.map(([, b]) => b)).toEqual([[1, 2], [3]]);
  });
});

const point = (recordedAt: number, lat = 52.5): GpsPoint => ({ lat, lng: 13.4, recordedAt, heading: null, speed: null, accuracy: 5 });
const located = (driverId: string, at: number) => ({ type: 'LocationRecorded', data: { driverId, lat: 52.5, lng: 13.4, recordedAt: at } });

async function appendsOneByOneAndTogether(location: { url: string } | { clusterNodes: readonly string[] }, prefix: string, countCalls: () => Promise<number>) {
  const shards = 4;
  const store = getRedisScreeningStore({ ...location, prefix, kept: 5, log: { layout: streamLayout(prefix, shards), clock: systemClock } });
  try {
    // Redis learns the script on its first call to each server (EVALSHA fails, EVAL follows): before counting.
    await Promise.all(Array.from({ length: 12 }, (_, i) => store.appendIfAt!(`w${i}`, 0, [point(500)], [located(`w${i}`, 500)])));
    const drivers = Array.from({ length: 24 }, (_, i) => `d${i}`);
    const before = await countCalls();
    const first = await Promise.all(drivers.map((d) => store.appendIfAt!(d, 0, [point(1_000)], [located(d, 1_000)])));
    const calls = (await countCalls()) - before;
    expect(first.every((r) => r.appended && r.version === 1)).toBe(true);
    // One call for all (one server) or one per shard (a cluster's slots), never one per driver.
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThanOrEqual(shards);

    // In one batch: d0 appends at its version; d1 is behind (another instance wrote meanwhile) and
    // gets what was added since, writing nothing; d2 twice: the second, screened against the same
    // version, loses to the first and is answered with the first one's point.
    const replies = await Promise.all([
      store.appendIfAt!('d0', 1, [point(2_000)], [located('d0', 2_000)]),
      store.appendIfAt!('d1', 0, [point(2_000)], [located('d1', 2_000)]),
      store.appendIfAt!('d2', 1, [point(2_000)], [located('d2', 2_000)]),
      store.appendIfAt!('d2', 1, [point(2_500, 52.6)], [located('d2', 2_500)]),
    ]);
    expect(replies[0]).toEqual({ appended: true, version: 2 });
    expect(replies[1]).toMatchObject({ appended: false, version: 1, full: true, points: [point(1_000)] });
    expect(replies[2]).toEqual({ appended: true, version: 2 });
    expect(replies[3]).toMatchObject({ appended: false, version: 2, full: false, points: [point(2_000)] });
    expect((await store.read('d2', 0)).points.map((p) => p.recordedAt)).toEqual([1_000, 2_000]);
    return store;
  } catch (err) {
    await store.close();
    throw err;
  }
}

describe('the Redis screening store, group committed', () => {
  const redis = useRedis();

  it('appends many drivers in one script call, each with its own compare-and-append answer, ids increasing per shard', async () => {
    const calls = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis.plain.info('commandstats'))?.[1] ?? 0) + Number(/cmdstat_eval:calls=(\d+)/.exec(await redis.plain.info('commandstats'))?.[1] ?? 0);
    const store = await appendsOneByOneAndTogether({ url: redis.server.url }, 'gc1:', calls);
    await store.close();
    // Every event landed once, on its driver's shard, with ids that increase within each shard.
    let total = 0;
    for (const k of shardKeysOf('gc1:', 'driver-locations', 4)) {
      const ids = ((await redis.plain.xrange(k.stream, '-', '+')) as [string, string[]][]).map(([id]) => id);
      const ordered = [...ids].sort((a, b) => {
        const [am, as] = a.split('-').map(Number);
        const [bm, bs] = b.split('-').map(Number);
        return am! - bm! || as! - bs!;
      });
      expect(ids).toEqual(ordered);
      expect(new Set(ids).size).toBe(ids.length);
      total += ids.length;
    }
    expect(total).toBe(12 + 24 + 2); // the warm-up, the first round, then d0 and d2's winner
  });
});

describe('the Redis screening store on a cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('commits per shard (a script names one slot only), each driver answered as alone', async () => {
    const nodes = cluster.nodes.map((n) => new Redis(`redis://${n}`));
    const calls = async () => {
      let n = 0;
      for (const r of nodes) n += Number(/cmdstat_evalsha:calls=(\d+)/.exec(await r.info('commandstats'))?.[1] ?? 0) + Number(/cmdstat_eval:calls=(\d+)/.exec(await r.info('commandstats'))?.[1] ?? 0);
      return n;
    };
    try {
      const store = await appendsOneByOneAndTogether({ clusterNodes: cluster.nodes }, 'gc2:', calls);
      await store.close();
    } finally {
      for (const r of nodes) r.disconnect();
    }
  });
});
