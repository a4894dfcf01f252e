// Issue 15, session 6: a reader over several GPS shards (one server) acknowledges a batch that spans
// shards with ONE command, not one XACK per shard; nothing is acknowledged before it was handled.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getRedisEventLog } from '../adapters/redis/event-log.ts';
import { getRedisPartitions } from '../adapters/redis/partitions.ts';
import { shardKeysOf, shardOf } from '../adapters/redis/scripts.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import { opaque } from './support/opaque-log.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { waitFor } from './support/wait.ts';

const SHARDS = 8;
const quiet = { warn() {}, error() {} };
let server: RedisServer;
let plain: Redis;
let monitor: Redis | undefined;

beforeAll(async () => {
  server = await startRedis();
  plain = new Redis(server.url, { protocol: 2 });
});
afterAll(async () => {
  monitor?.disconnect();
  plain?.disconnect();
  await server?.stop();
});

const gps = (n: number) => ({ type: 'DriverLocationReported', data: { n, lat: 52.5, lng: 13.4 } });

it('a batch spanning every shard is acknowledged with one command, and only once handled', async () => {
  const prefix = 'acks:';
  const log = opaque(getRedisEventLog({ url: server.url, prefix, locationShards: SHARDS, logger: quiet }));
  const consumer = getRedisPartitions({ url: server.url, prefix, stream: 'driver-locations', shards: SHARDS, group: 'gps', instanceId: 'solo', leaseMs: 3_000, blockMs: 1_000, logger: quiet });
  const pending = async () => {
    let n = 0;
    for (const k of shardKeysOf(prefix, 'driver-locations', SHARDS)) n += Number(((await plain.xpending(k.stream, 'gps')) as unknown[])[0] ?? 0);
    return n;
  };
  const drivers: string[] = [];
  for (let i = 0; drivers.length < SHARDS; i++) if (!drivers.some((d) => shardOf(d, SHARDS) === shardOf(`d_${i}`, SHARDS))) drivers.push(`d_${i}`);
  const batches: Recorded[][] = [];
  let open = () => {};
  let gate = new Promise<void>((r) => (open = r));
  /** Acknowledging commands the reader sent: XACK, or a script that runs XACK. */
  const acks: string[][] = [];
  try {
    // Appended before the reader starts (its group reads from the start): its first read spans every shard.
    for (const d of drivers) await log.append('driver-locations', d, [gps(1)]);
    await consumer.start(async (events) => {
      batches.push([...events]);
      await gate;
    });
    monitor = await plain.monitor();
    monitor.on('monitor', (_t: string, args: string[], source: string) => {
      if (source === 'lua') return;
      const cmd = String(args[0]).toLowerCase();
      if (cmd === 'xack' || (cmd.startsWith('eval') && args.some((a) => /XACK/.test(String(a))))) acks.push(args.map(String));
    });
    await waitFor(() => batches.flat().length === SHARDS, 'every point handed over');
    // Held by the handler: handed out, nothing acknowledged.
    expect(await pending()).toBe(SHARDS);
    expect(acks).toEqual([]);
    open();
    await waitFor(async () => (await pending()) === 0, 'everything acknowledged');
    expect(batches.length).toBe(1);
    expect(new Set(batches[0]!.map((e) => shardOf(e.metadata.key, SHARDS))).size).toBe(SHARDS);
    // One command per batch read, whatever number of shards it spans.
    expect(acks.length).toBe(batches.length);
  } finally {
    open();
    gate = Promise.resolve();
    await consumer.close();
    await log.close();
  }
});
