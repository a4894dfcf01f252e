// The benchmarks' server (bench/server.ts) starts with the real app and its guards, so a change to the
// app can break `npm run bench` without any other test noticing (the every-route-declares-its-answers
// guard did, once). Each mode it serves starts and answers its stats route.
import { afterEach, describe, expect, it } from 'vitest';
import { startServerChild, type ServerChild } from '../bench/lib/child.ts';
import { connectRiders, driverSender, Receiver, type TripInfo } from '../bench/lib/live.ts';

describe('the bench server', () => {
  let server: ServerChild | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it.each([
    ['bare', { BENCH_MODE: 'bare' }],
    ['service on memory', { BENCH_MODE: 'service', TRANSPORT: 'memory' }],
    ['bare-live', { BENCH_MODE: 'bare-live' }],
  ])('starts in %s mode and answers /bench/stats', async (_name, env) => {
    server = await startServerChild(env, { timeoutMs: 60_000, label: 'bench-server' });
    const stats = await server.get<{ cpuUs: number; rssMiB: number }>('/bench/stats?reset=1');
    expect(stats.rssMiB).toBeGreaterThan(0);
    expect(typeof stats.cpuUs).toBe('number');
  }, 90_000);

  // The e2e floor must push what the service pushes, to the same clients, or its figures mean nothing.
  it('in bare-live mode pushes each driver\'s POST to the rider socket watching that ride', async () => {
    server = await startServerChild({ BENCH_MODE: 'bare-live' }, { timeoutMs: 60_000, label: 'bench-server' });
    const { trips } = await server.post<{ trips: TripInfo[] }>('/bench/trips', { from: 0, count: 2 });
    const receiver = new Receiver();
    receiver.window(Date.now() - 1_000, Date.now() + 60_000);
    const { sockets, failed } = await connectRiders(server.url.replace('http', 'ws'), trips, receiver);
    expect(failed).toBe(0);
    const sender = driverSender(server.url, trips);
    try {
      await sender.run(2, 1_050);
      const deadline = Date.now() + 5_000;
      while (receiver.received < sender.counters.ok && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(sender.counters.ok).toBeGreaterThanOrEqual(2);
      expect(receiver.received).toBe(sender.counters.ok);
      expect(receiver.other).toBe(0);
    } finally {
      sender.close();
      for (const x of sockets) x.ws.terminate();
    }
  }, 90_000);
});
