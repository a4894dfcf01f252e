// Issue 15, session 6: a GPS point's Redis commands leave on one auto-pipelined connection. The
// auth check (HEXISTS), the screen-and-append script and the GEO projection's batch script used to
// go out on three connections, so a tick that had all three paid three socket writes (the largest
// Redis-side CPU cost of a point, `writeUtf8String`); on one connection they share one write.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, stopAll, TEST_ADMIN, type ServerProcess } from './support/server-process.ts';
import { http } from './support/http-client.ts';
import { metric } from './support/metrics.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { waitFor } from './support/wait.ts';

describe('one Redis connection for the commands of a GPS point', () => {
  let redis: RedisServer;
  let raw: Redis;
  let monitor: Redis | undefined;
  let server: ServerProcess;

  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url, { protocol: 2, maxRetriesPerRequest: 1 } as never);
    server = await startServer({ name: 'hot connection', env: { TRANSPORT: 'redis', REDIS_URL: redis.url, STREAM_PREFIX: 'hot:', INSTANCE_ID: 'a' } });
  }, 120_000);

  afterAll(async () => {
    monitor?.disconnect();
    await stopAll([server]);
    raw?.disconnect();
    await redis?.stop();
  }, 60_000);

  it('the auth check, the screen-and-append script and the GEO script share a client', async () => {
    const api = http(server.url);
    const admin = (await api.login(TEST_ADMIN.username, TEST_ADMIN.password)).token;
    const driver = await api.user(admin, 'driver');
    const handled = () => metric(server.url, 'ridecast_gps_points_handled_total');
    const before = await handled();
    /** Client address by what it sent: the user check, the compare-and-append (its window list key), the GEO batch. */
    const seen = { auth: new Set<string>(), append: new Set<string>(), geo: new Set<string>() };
    monitor = await raw.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const [cmd, , , firstKey = ''] = args.map(String);
      if (source === 'lua') return; // what scripts run inside
      if (cmd?.toLowerCase() === 'hexists') seen.auth.add(source);
      if (cmd?.toLowerCase().startsWith('eval') && /:fix:.*:p$/.test(firstKey)) seen.append.add(source);
      if (cmd?.toLowerCase().startsWith('eval') && firstKey.endsWith('{geo}:drivers')) seen.geo.add(source);
    });
    const reply = await api.post('/v1/drivers/me/locations', driver.token, { lat: 52.5, lng: 13.4, recordedAt: Date.now() });
    expect(reply.status).toBe(202);
    await waitFor(async () => (await handled()) > before && seen.geo.size > 0, 'the point handled and projected');
    expect(seen.auth.size).toBe(1);
    expect([...seen.append]).toEqual([...seen.auth]);
    expect([...seen.geo]).toEqual([...seen.auth]);
  });
});
