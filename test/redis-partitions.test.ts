import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { getRedisEventLog } from '../adapters/redis/event-log.ts';
import { opaque } from './support/opaque-log.ts';
import { getRedisPartitions } from '../adapters/redis/partitions.ts';
import { shardOf } from '../adapters/redis/scripts.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import { useRedis } from './support/redis.ts';
import { startRedisCluster } from './support/redis-cluster.ts';
import { waitFor } from './support/wait.ts';

const SHARDS = 8;
const quiet = { warn() {}, error() {} };
const redis = useRedis();
let counter = 0;

const gps = (n: number) => ({ type: 'DriverLocationReported', data: { n, lat: 52.5, lng: 13.4 } });
/** One driver id per shard. */
function driverPerShard(): string[] {
  const found = new Map<number, string>();
  for (let i = 0; found.size < SHARDS; i++) if (!found.has(shardOf(`d_${i}`, SHARDS))) found.set(shardOf(`d_${i}`, SHARDS), `d_${i}`);
  return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, d]) => d);
}
/** Connections whose last command was XREADGROUP (`blocked`: blocked in it now) on a server. */
async function blockedReaders(on: Redis = redis.plain, blocked = true): Promise<number> {
  const list = String(await on.call('CLIENT', 'LIST'));
  return list.split('\n').filter((l) => /\bcmd=xreadgroup\b/.test(l) && (!blocked || /\bflags=\w*b/.test(l))).length;
}

describe('GPS shard partitions on one Redis', () => {
  it('one connection reads every owned shard: points that reach several shards while a batch is handled come in one batch', async () => {
    const prefix = `p${++counter}:`;
    const log = opaque(getRedisEventLog({ url: redis.server.url, prefix, locationShards: SHARDS, logger: quiet }));
    const consumer = getRedisPartitions({ url: redis.server.url, prefix, stream: 'driver-locations', shards: SHARDS, group: 'gps', instanceId: 'solo', leaseMs: 3_000, blockMs: 1_000, logger: quiet });
    const batches: Recorded[][] = [];
    let open = () => {};
    const gate = new Promise<void>((r) => (open = r));
    const drivers = driverPerShard();
    try {
      await consumer.start(async (events) => {
        batches.push([...events]);
        if (batches.length === 1) await gate; // the first batch is held while the rest arrive
      });
      expect(consumer.owned()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      await waitFor(blockedReaders, 'a blocked reader');
      // Idle, a reader's last command stays XREADGROUP (blocked, or between two blocking reads).
      expect(await blockedReaders(redis.plain, false)).toBe(1);

      await log.append('driver-locations', drivers[0]!, [gps(1)]);
      await waitFor(() => batches.length === 1, 'the first point handed over');
      for (const d of drivers) await log.append('driver-locations', d, [gps(2)]);
      open();
      await waitFor(() => batches.flat().length === SHARDS + 1, 'every point handled');
      // One read after the held batch carried the points of all eight shards, each shard's in order.
      expect(batches.length).toBe(2);
      expect(new Set(batches[1]!.map((e) => shardOf(e.metadata.key, SHARDS))).size).toBe(SHARDS);
      await waitFor(async () => (await pendingOf(prefix)) === 0, 'everything acknowledged');
    } finally {
      open();
      await consumer.close();
      await log.close();
    }
  });

  it('shards move between members with the one reader each: every point handled once, each driver in order', async () => {
    const prefix = `p${++counter}:`;
    const log = opaque(getRedisEventLog({ url: redis.server.url, prefix, locationShards: SHARDS, logger: quiet }));
    const make = (id: string) => getRedisPartitions({ url: redis.server.url, prefix, stream: 'driver-locations', shards: SHARDS, group: 'gps', instanceId: id, leaseMs: 600, blockMs: 200, claimIdleMs: 1_000, logger: quiet });
    const seen = new Map<string, number[]>();
    const by = { a: 0, b: 0 };
    const handlerOf = (who: 'a' | 'b') => async (events: readonly Recorded[]) => {
      for (const e of events) seen.set(e.metadata.key, [...(seen.get(e.metadata.key) ?? []), (e.data as { n: number }).n]);
      by[who] += events.length;
    };
    const a = make('a');
    const b = make('b');
    const drivers = driverPerShard();
    let n = 0;
    const round = async () => {
      n++;
      await Promise.all(drivers.map((d) => log.append('driver-locations', d, [gps(n)])));
    };
    const allHandled = () => waitFor(() => drivers.every((d) => (seen.get(d) ?? []).length === n), `round ${n} handled`, 15_000);
    try {
      await a.start(handlerOf('a'));
      await round();
      await allHandled();
      await b.start(handlerOf('b'));
      await waitFor(() => a.owned().length === SHARDS / 2 && b.owned().length === SHARDS / 2, 'the shards shared 4 / 4', 15_000);
      await waitFor(async () => (await blockedReaders()) === 2, 'one blocked reader per member');
      for (let r = 0; r < 3; r++) await round();
      await allHandled();
      expect(by.b).toBeGreaterThan(0);
      await a.close();
      await waitFor(() => b.owned().length === SHARDS, 'b to own every shard', 15_000);
      await round();
      await allHandled();
      for (const d of drivers) expect(seen.get(d)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      await waitFor(async () => (await pendingOf(prefix)) === 0, 'everything acknowledged');
    } finally {
      await a.close();
      await b.close();
      await log.close();
    }
  }, 60_000);
});

describe('GPS shard partitions on a Redis Cluster', () => {
  it('keeps one reader per shard (each shard its own hash slot: no command may name two) and handles every point', async () => {
    const cluster = await startRedisCluster(3);
    const masters = cluster.masters.map((m) => new Redis(m.url, { protocol: 2 }));
    const prefix = 'c:';
    const log = opaque(getRedisEventLog({ clusterNodes: cluster.nodes, prefix, locationShards: SHARDS, logger: quiet }));
    const consumer = getRedisPartitions({ clusterNodes: cluster.nodes, prefix, stream: 'driver-locations', shards: SHARDS, group: 'gps', instanceId: 'solo', leaseMs: 3_000, blockMs: 1_000, logger: quiet });
    const seen: string[] = [];
    try {
      await consumer.start(async (events) => void seen.push(...events.map((e) => e.metadata.key)));
      expect(consumer.owned()).toHaveLength(SHARDS);
      const blocked = async () => (await Promise.all(masters.map((m) => blockedReaders(m)))).reduce((a, b) => a + b, 0);
      await waitFor(async () => (await blocked()) === SHARDS, 'a blocked reader per shard', 15_000);
      const drivers = driverPerShard();
      for (const d of drivers) await log.append('driver-locations', d, [gps(1)]);
      await waitFor(() => seen.length === SHARDS, 'every point handled');
      expect(new Set(seen)).toEqual(new Set(drivers));
    } finally {
      await consumer.close();
      await log.close();
      for (const m of masters) m.disconnect();
      await cluster.stop();
    }
  }, 60_000);
});

async function pendingOf(prefix: string): Promise<number> {
  let n = 0;
  for (let s = 0; s < SHARDS; s++) n += Number(((await redis.plain.xpending(`${prefix}{driver-locations:${s}}`, 'gps')) as [number])[0]);
  return n;
}
