// Two real server processes (src/main.ts) on one Redis backend: what "Scaling past one machine" in
// ARCHITECTURE.md promises, checked from outside: live push across instances, no double booking when
// both instances match at once, under each dispatch setting. One file per backend
// (scale-out.redis.test.ts, scale-out.cluster.test.ts) so the two run side by side.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { RedisLocation } from '../../adapters/redis/connection.ts';
import { getRedisEventLog, type RedisEventLog } from '../../adapters/redis/event-log.ts';
import { diagnostics, startServer, stopAll, TEST_ADMIN, type ServerProcess } from './server-process.ts';
import { http, type Http } from './http-client.ts';
import { openSocket, type LiveSocket } from './live-socket.ts';
import { driveTrip } from './drive-trip.ts';
import { startRedis } from './redis.ts';
import { startRedisCluster } from './redis-cluster.ts';
import { times, waitFor } from './wait.ts';
import { BATCHED, BATCHED_FANOUT, center, dropoff, porto, twentyRideRace, type PolicyRace } from './race.ts';

/** Where the two instances' Redis runs: one server, or a real 3-master Redis Cluster. */
export interface RedisBackend {
  readonly env: Record<string, string>;
  readonly location: RedisLocation;
  /** Keys per master under a prefix; one entry for a single server. */
  keysPerMaster(pattern: string): Promise<number[]>;
  stop(): Promise<void>;
}
/** `nearest` with fan-out, from the start (no restart): the Cluster's first race runs under it. */
const NEAREST_FANOUT = { label: 'OFFER_FANOUT=3', env: { OFFER_FANOUT: '3' }, fanout: 3 };
const NEAREST = { label: '', env: {}, fanout: 1 };
/** Each backend with the setting its instances start with (`nearest`) and the races it runs after the first one. */
export type RedisSuite = [string, () => Promise<RedisBackend>, typeof NEAREST, PolicyRace[]];
export const oneRedis: RedisSuite = ['one Redis', async () => {
    const server = await startRedis();
    return { env: { REDIS_URL: server.url }, location: { url: server.url }, keysPerMaster: async () => [], stop: () => server.stop() };
  }, NEAREST, [BATCHED_FANOUT]];
export const redisCluster: RedisSuite = ['a 3-master Redis Cluster', async () => {
    const cluster = await startRedisCluster(3);
    return { env: { REDIS_CLUSTER_NODES: cluster.nodes.join(',') }, location: { clusterNodes: cluster.nodes }, keysPerMaster: cluster.keysPerMaster, stop: cluster.stop };
  }, NEAREST_FANOUT, [BATCHED]];

/** Two real server processes (src/main.ts) on a Redis backend, and the races they run. */
export function describeTwoInstancesOn([backendName, startBackend, first, races]: RedisSuite): void {
describe(`two instances on ${backendName}`, () => {
  let redis: RedisBackend;
  let a: ServerProcess;
  let b: ServerProcess;
  let apiA: Http;
  let apiB: Http;
  let admin: string;
  let log: RedisEventLog;
  const prefix = `scale${process.pid}:`;
  const sockets: LiveSocket[] = [];

  const env = (id: string, policy: Record<string, string> = {}) => ({
    TRANSPORT: 'redis',
    ...redis.env,
    STREAM_PREFIX: prefix,
    INSTANCE_ID: id,
    OFFER_TIMEOUT_MS: '1500',
    MATCH_TIMEOUT_MS: '120000',
    CLAIM_IDLE_MS: '1000',
    ...policy,
  });

  beforeAll(async () => {
    redis = await startBackend();
    // One after the other: both would race to create the admin account otherwise (harmless, but noisy).
    a = await startServer({ name: 'instance a', env: env('a', first.env) });
    b = await startServer({ name: 'instance b', env: env('b', first.env) });
    apiA = http(a.url);
    apiB = http(b.url);
    admin = (await apiA.login(TEST_ADMIN.username, TEST_ADMIN.password)).token;
    log = getRedisEventLog({ ...redis.location, prefix, logger: { warn() {}, error() {} } });
  }, 120_000);

  afterAll(async () => {
    for (const s of sockets) s.close();
    await stopAll([a, b]);
    await log?.close();
    await redis?.stop();
  }, 60_000);

  const onFailure = () => onTestFailed(() => console.error(diagnostics([a, b])));

  it('a rider connected to B sees, in order, every event caused through A', async () => {
    onFailure();
    const rider = await apiA.user(admin, 'rider');
    const driver = await apiA.user(admin, 'driver');
    const riderOnB = await openSocket(b.url, rider.token);
    sockets.push(riderOnB);

    // No driver is online yet, so the ride waits in `requested` until the rider has subscribed on B.
    const requested = await apiA.post('/v1/rides', rider.token, { pickup: center, dropoff });
    expect(requested).toMatchObject({ status: 202, body: { status: 'requested' } });
    const { rideId } = requested.body;
    riderOnB.send({ type: 'subscribe', rideId });
    await riderOnB.waitFor((m) => m.type === 'ride.status' && m.event === 'RideRequested', 'the snapshot on B');

    const driverOnA = await openSocket(a.url, driver.token);
    sockets.push(driverOnA);
    expect((await apiA.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
    // Device times a drivable 10 s apart (the speed screen refuses faster), the last one now.
    const t0 = Date.now() - 50_000;
    expect((await apiA.post('/v1/drivers/me/locations', driver.token, { lat: center.lat + 0.001, lng: center.lng, recordedAt: t0 })).body.accepted).toBe(1);
    await driverOnA.waitFor((m) => m.type === 'ride.offer' && m.rideId === rideId, 'the offer pushed to the driver on A');

    for (const step of ['accept', 'arrive', 'start']) expect((await apiA.post(`/v1/rides/${rideId}/${step}`, driver.token)).status).toBe(200);
    const onB = () => riderOnB.messages.some((m) => m.type === 'driver.location' && m.rideId === rideId);
    const lastPoint = await driveTrip(apiA, driver.token, center, dropoff, onB);
    await riderOnB.waitFor((m) => m.type === 'driver.location' && m.rideId === rideId && Date.parse(m.recordedAt) === lastPoint, 'the last trip location on B');
    expect((await apiA.post(`/v1/rides/${rideId}/complete`, driver.token)).status).toBe(200);
    await riderOnB.waitFor((m) => m.type === 'ride.status' && m.event === 'PaymentCaptured', 'the payment on B');
    expect((await apiA.post(`/v1/rides/${rideId}/rating`, rider.token, { stars: 5 })).status).toBe(201);
    await riderOnB.waitFor((m) => m.type === 'ride.status' && m.event === 'RideRated', 'the rating on B');

    const history = await log.readKey('rides', rideId);
    const seen = riderOnB.messages.filter((m) => m.type === 'ride.status' && m.rideId === rideId);
    // Every ride event, in log order, once: the socket on B missed nothing that happened through A.
    expect(seen.map((m) => m.eventId)).toEqual(history.map((e) => e.metadata.eventId));
    expect(seen.map((m) => m.event)).toEqual([
      'RideRequested', 'RideOffered', 'RideAccepted', 'DriverArrived', 'TripStarted', 'TripCompleted', 'FareCalculated', 'PaymentCaptured', 'RideRated',
    ]);
    const locations = riderOnB.messages.filter((m) => m.type === 'driver.location' && m.rideId === rideId).map((m) => Date.parse(m.recordedAt));
    expect(locations).toEqual([...locations].sort((x, y) => x - y));
    expect(new Set(locations).size).toBe(locations.length);
    expect(locations).toContain(lastPoint);
    // On the cluster, the ride's streams and stores landed on more than one master (one server: no check).
    const perMaster = await redis.keysPerMaster(`${prefix}*`);
    if (perMaster.length > 1) expect(perMaster.filter((n) => n > 0).length, `keys per master ${perMaster}`).toBeGreaterThan(1);
  }, 60_000);

  it(`20 rides requested through both instances against 3 drivers${first.fanout > 1 ? ` (${first.label})` : ''}: no driver is ever booked twice, each ride is paid once`, async () => {
    onFailure();
    await twentyRideRace({ a, b, apiA, apiB, admin, log, sockets, bothMatch: true, timeoutMs: 100_000, city: porto, fanout: first.fanout });
  }, 150_000);

  for (const race of races)
    it(`the same race under ${race.label}, both instances restarted with it: no driver is ever booked twice, each ride is paid once${race.fanout ? ', every losing offer is withdrawn and its driver told' : ''}`, async () => {
      onFailure();
      const restartedAt = Date.now();
      await stopAll([a, b]);
      // At once: the admin account exists by now, so there is no creation to race for. Each one that
      // started is kept, so afterAll stops it even if the other did not start.
      const [startedA, startedB] = await Promise.allSettled([
        startServer({ name: `instance a (${race.label})`, env: env('a', race.env) }),
        startServer({ name: `instance b (${race.label})`, env: env('b', race.env) }),
      ]);
      if (startedA.status === 'fulfilled') a = startedA.value;
      if (startedB.status === 'fulfilled') b = startedB.value;
      for (const s of [startedA, startedB]) if (s.status === 'rejected') throw s.reason;
      apiA = http(a.url);
      apiB = http(b.url);
      admin = (await apiA.login(TEST_ADMIN.username, TEST_ADMIN.password)).token;
      console.info(`[scale-out] ${backendName}: both instances restarted under ${race.label} in ${Date.now() - restartedAt} ms`);
      await twentyRideRace({ a, b, apiA, apiB, admin, log, sockets, bothMatch: true, timeoutMs: 100_000, city: race.city, fanout: race.fanout });
    }, 180_000);
});
}
