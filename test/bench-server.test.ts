// The benchmarks' server (bench/server.ts) starts with the real app and its guards, so a change to the
// app can break `npm run bench` without any other test noticing (the every-route-declares-its-answers
// guard did, once). Each mode it serves starts and answers its stats route.
import { afterEach, describe, expect, it } from 'vitest';
import { startServerChild, type ServerChild } from '../bench/lib/child.ts';

describe('the bench server', () => {
  let server: ServerChild | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it.each([
    ['bare', { BENCH_MODE: 'bare' }],
    ['service on memory', { BENCH_MODE: 'service', TRANSPORT: 'memory' }],
  ])('starts in %s mode and answers /bench/stats', async (_name, env) => {
    server = await startServerChild(env, { timeoutMs: 60_000, label: 'bench-server' });
    const stats = await server.get<{ cpuUs: number; rssMiB: number }>('/bench/stats?reset=1');
    expect(stats.rssMiB).toBeGreaterThan(0);
    expect(typeof stats.cpuUs).toBe('number');
  }, 90_000);
});
