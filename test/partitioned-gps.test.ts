// Partitioned GPS work on Redis (README "Scaling out"): two real server processes share the GPS
// shards by lease; each point is handled by exactly one of them, and when the owner of half the
// shards is killed the survivor takes them over, with what the dead one had been handed.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardKeysOf } from '../adapters/redis/scripts.ts';
import { startServer, stopAll, TEST_ADMIN, type ServerProcess } from './support/server-process.ts';
import { http, type Http } from './support/http-client.ts';
import { metric } from './support/metrics.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { openSocket } from './support/live-socket.ts';
import { waitFor } from './support/wait.ts';

const SHARDS = 8;
const DRIVERS = 24;

describe('partitioned GPS work, two instances on one Redis', () => {
  let redis: RedisServer;
  let raw: Redis;
  let a: ServerProcess;
  let b: ServerProcess;
  let apiA: Http;
  let apiB: Http;
  const prefix = `part${process.pid}:`;
  const env = (id: string) => ({
    TRANSPORT: 'redis',
    REDIS_URL: redis.url,
    STREAM_PREFIX: prefix,
    INSTANCE_ID: id,
    LOCATION_SHARDS: String(SHARDS),
    SHARD_LEASE_MS: '1500',
    CLAIM_IDLE_MS: '1000',
  });
  const handled = (s: ServerProcess) => metric(s.url, 'ridecast_gps_points_handled_total');
  const owned = (s: ServerProcess) => metric(s.url, 'ridecast_gps_shards_owned');
  /** Entries of the `gps` group handed out and not acknowledged, over every shard. */
  async function pending(): Promise<number> {
    let n = 0;
    for (const k of shardKeysOf(prefix, 'driver-locations', SHARDS)) n += Number(((await raw.xpending(k.stream, 'gps').catch(() => [0])) as unknown[])[0] ?? 0);
    return n;
  }

  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url, { protocol: 2, maxRetriesPerRequest: 1 } as never);
    a = await startServer({ name: 'instance a', env: env('a') });
    b = await startServer({ name: 'instance b', env: env('b') });
    apiA = http(a.url);
    apiB = http(b.url);
  }, 120_000);

  afterAll(async () => {
    await stopAll([a, b]);
    raw?.disconnect();
    await redis?.stop();
  }, 60_000);

  it('two instances racing for one driver: of two points that contradict each other, exactly one is accepted', async () => {
    const admin = (await apiA.login(TEST_ADMIN.username, TEST_ADMIN.password)).token;
    const drivers = await Promise.all(Array.from({ length: 16 }, () => apiA.user(admin, 'driver')));
    const rounds = 6;
    let at = Date.now() - 200_000;
    const lat = drivers.map(() => 52.5);
    const lng = drivers.map(() => 13.4);
    for (let r = 0; r < rounds; r++) {
      at += 10_000;
      // Per driver two positions for the same device time, ~100 m apart and each drivable from the
      // last one, one to each instance at once (every driver at once, so the requests overlap):
      // whichever is screened second must see the first (CONFLICTING_POINT), or the track holds both.
      const replies = await Promise.all(
        drivers.map(async (d, i) => {
          lat[i]! += 0.0005;
          const both = await Promise.all([
            apiA.post('/v1/drivers/me/locations', d.token, { lat: lat[i], lng: lng[i], recordedAt: at }),
            apiB.post('/v1/drivers/me/locations', d.token, { lat: lat[i], lng: lng[i]! + 0.0015, recordedAt: at }),
          ]);
          // The next round starts from the side that won.
          if (Number(both[1].body.accepted) === 1) lng[i]! += 0.0015;
          return both;
        }),
      );
      for (const both of replies) {
        for (const reply of both) expect(reply.status, JSON.stringify(reply.body)).toBe(202);
        expect(both.map((reply) => Number(reply.body.accepted)), JSON.stringify(both.map((x) => x.body))).toContain(0);
        expect(both.map((reply) => Number(reply.body.accepted)).reduce((x, y) => x + y)).toBe(1);
      }
    }
    const ids = new Set(drivers.map((d) => d.userId));
    let recorded = 0;
    for (const k of shardKeysOf(prefix, 'driver-locations', SHARDS)) {
      const entries = (await raw.xrange(k.stream, '-', '+')) as [string, string[]][];
      recorded += entries.map(([, f]) => JSON.parse(f[f.indexOf('event') + 1]!) as string[]).filter(([type, key]) => ids.has(key!) && type === 'LocationRecorded').length;
    }
    expect(recorded).toBe(rounds * drivers.length);
  }, 60_000);

  it("a ride's points go out on its channel only while a socket on the other instance watches it; then both sockets see every one, in order", async () => {
    const admin = (await apiA.login(TEST_ADMIN.username, TEST_ADMIN.password)).token;
    const [driver, rider] = [await apiA.user(admin, 'driver'), await apiA.user(admin, 'rider')];
    const here = { lat: 38.7223, lng: -9.1393 };
    let at = Date.now() - 60_000;
    const move = async (i: number) => {
      at += 2_000;
      const r = await apiA.post('/v1/drivers/me/locations', driver.token, { lat: here.lat + i * 0.0001, lng: here.lng, recordedAt: at });
      expect(r.body.accepted, JSON.stringify(r.body)).toBe(1);
    };
    expect((await apiA.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
    await move(0);
    const { rideId } = (await apiA.post('/v1/rides', rider.token, { pickup: here, dropoff: { lat: 38.7369, lng: -9.1427 } })).body;
    await waitFor(async () => (await apiA.post(`/v1/rides/${rideId}/accept`, driver.token)).status === 200, 'the driver accepts the offer', 30_000, 100);
    for (const step of ['arrive', 'start']) expect((await apiA.post(`/v1/rides/${rideId}/${step}`, driver.token)).status).toBe(200);

    // Every message on any ride channel, as Redis carries it.
    const listener = raw.duplicate();
    const onChannel: string[] = [];
    listener.on('pmessage', (_p: string, channel: string) => void onChannel.push(channel));
    await listener.psubscribe(`${prefix}ride:*`);
    try {
      const handledBoth = async () => (await handled(a)) + (await handled(b));
      // Nobody watches: the owner, whichever it is, publishes none of these points.
      const before = await handledBoth();
      for (let i = 1; i <= 5; i++) await move(i);
      await waitFor(async () => (await handledBoth()) >= before + 5, 'both instances to have handled the 5 points', 30_000, 50);
      expect(onChannel).toEqual([]);

      // Watched on both instances: one of them owns the driver's shard, so the other's socket is
      // served through the ride channel.
      const sockets = [await openSocket(a.url, rider.token), await openSocket(b.url, rider.token)];
      try {
        for (const s of sockets) {
          s.send({ type: 'subscribe', rideId });
          await s.waitFor((m) => m.type === 'driver.location' && m.rideId === rideId, 'the newest location on subscribing');
        }
        const sent: number[] = [];
        for (let i = 6; i <= 15; i++) {
          await move(i);
          sent.push(at);
        }
        for (const s of sockets) {
          await s.waitFor((m) => m.type === 'driver.location' && Date.parse(m.recordedAt as string) === at, 'the last point on each socket', 30_000);
          const seen = s.messages.filter((m) => m.type === 'driver.location' && m.rideId === rideId).map((m) => Date.parse(m.recordedAt as string));
          expect(seen.filter((t) => t >= sent[0]!)).toEqual(sent);
        }
        expect(onChannel.length).toBeGreaterThanOrEqual(sent.length);
      } finally {
        for (const s of sockets) s.close();
      }
    } finally {
      listener.disconnect();
    }
  }, 120_000);

  it('each point is handled by exactly one instance; killing one moves its shards, and what it held, to the other', async () => {
    // The shards are shared out: a took all of them first, then gave half back when b joined.
    await waitFor(async () => (await owned(a)) === SHARDS / 2 && (await owned(b)) === SHARDS / 2, 'the shards shared 4 / 4', 30_000, 100);

    const admin = (await apiA.login(TEST_ADMIN.username, TEST_ADMIN.password)).token;
    const drivers: { token: string; lat: number; at: number }[] = [];
    for (let i = 0; i < DRIVERS; i++) {
      const d = await apiA.user(admin, 'driver');
      expect((await apiA.put('/v1/drivers/me/availability', d.token, { available: true })).status).toBe(200);
      drivers.push({ token: d.token, lat: 52.5 + i * 0.01, at: Date.now() - 300_000 });
    }
    /** One drivable point per driver (10 s, ~55 m after the last), through `via(i)`; returns the points accepted. */
    async function round(via: (i: number) => Http): Promise<number> {
      const replies = await Promise.all(
        drivers.map((d, i) => {
          d.lat += 0.0005;
          d.at += 10_000;
          return via(i).post('/v1/drivers/me/locations', d.token, { lat: d.lat, lng: 13.4, recordedAt: d.at });
        }),
      );
      for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(202);
      for (const r of replies) expect(r.body.rejections ?? [], JSON.stringify(r.body)).toEqual([]);
      return replies.reduce((n, r) => n + Number(r.body.accepted ?? 0), 0);
    }

    // Requests of one driver alternate between the instances: screening state is shared, so none is refused.
    const [a0, b0] = [await handled(a), await handled(b)];
    let sent = a0 + b0;
    for (let r = 0; r < 4; r++) sent += await round((i) => ((i + r) % 2 === 0 ? apiA : apiB));
    expect(sent - a0 - b0).toBe(4 * DRIVERS);
    await waitFor(async () => (await handled(a)) + (await handled(b)) >= sent && (await pending()) === 0, 'every point handled', 30_000, 100);
    const [byA, byB] = [await handled(a), await handled(b)];
    console.info(`[partitioned-gps] ${sent} points: handled by a ${byA}, by b ${byB}`);
    // Once each: the two counts add up to the points sent, and both instances did part of it.
    expect(byA + byB).toBe(sent);
    expect(byA).toBeGreaterThan(a0);
    expect(byB).toBeGreaterThan(b0);

    // a stops answering (frozen, its leases lapse) while points arrive; then it is killed. b takes
    // a's shards over, with whatever a's blocked reads had been handed and never acknowledged.
    a.freeze();
    const more = (await round(() => apiB)) + (await round(() => apiB));
    const heldByA = await waitFor(async () => {
      let n = 0;
      for (const k of shardKeysOf(prefix, 'driver-locations', SHARDS)) n += Number(((await raw.xpending(k.stream, 'gps', '-', '+', 1000, 'a')) as unknown[]).length);
      return n + 0.5; // truthy even at 0: read once
    }, 'a count of what a holds');
    console.info(`[partitioned-gps] a frozen holding ${heldByA - 0.5} unacknowledged points, then killed`);
    await a.crash();
    await waitFor(async () => (await owned(b)) === SHARDS, 'b to own every shard', 30_000, 100);
    await waitFor(async () => (await handled(b)) >= byB + more && (await pending()) === 0, 'b to handle every later point', 30_000, 100);
    expect(await handled(b)).toBe(byB + more);
  }, 180_000);
});
