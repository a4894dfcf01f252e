// The Redis Channels adapter's shared "who listens to what" (declare / withdraw / listening), which
// the live relay reads to publish a ride's points only where another instance watches the ride.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getRedisChannels } from '../adapters/redis/channels.ts';
import type { Channels } from '../domain/ports/channels.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { waitFor } from './support/wait.ts';

let redis: RedisServer;
let channels: Channels;
beforeAll(async () => {
  redis = await startRedis();
  channels = getRedisChannels({ url: redis.url, prefix: 'rc:', logger: { warn() {}, error() {} } as never });
});
afterAll(async () => {
  await channels?.close();
  await redis?.stop();
});

const sorted = (rows: readonly (readonly [string, string])[]) => rows.map(([l, k]) => `${l}/${k}`).sort();

it('declarations are read back per listener, withdrawn at once, and lapse by themselves (the store keeps time)', async () => {
  await channels.declare('a', ['r1', 'r2'], 60_000);
  await channels.declare('b', ['r1'], 60_000);
  await channels.declare('c', [], 60_000);
  expect(sorted(await channels.listening())).toEqual(['a/r1', 'a/r2', 'b/r1']);
  await channels.withdraw('a', ['r2']);
  expect(sorted(await channels.listening())).toEqual(['a/r1', 'b/r1']);
  // Restated with a short life, nobody restates it again: it goes by itself.
  await channels.declare('b', ['r1'], 100);
  await waitFor(async () => sorted(await channels.listening()).join() === 'a/r1', 'b/r1 lapses');
  // Many keys in one statement (sliced under the adapter).
  const many = Array.from({ length: 2_500 }, (_, i) => `m${i}`);
  await channels.declare('d', many, 60_000);
  expect((await channels.listening()).filter(([l]) => l === 'd')).toHaveLength(2_500);
  await channels.withdraw('d', many);
  expect(sorted(await channels.listening())).toEqual(['a/r1']);
});
