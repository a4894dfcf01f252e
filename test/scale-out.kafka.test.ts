// Two real server processes (src/main.ts) on Kafka: live push across instances, no double booking when
// both match, work-shared groups that act once per event, and a kill -9 taken over in a rebalance.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { getKafkaEventLog, type KafkaEventLog } from '../adapters/kafka/event-log.ts';
import { diagnostics, startServer, stopAll, TEST_ADMIN, type ServerProcess } from './support/server-process.ts';
import { http, type Http } from './support/http-client.ts';
import { openSocket, type LiveSocket } from './support/live-socket.ts';
import { metric } from './support/metrics.ts';
import { driveTrip } from './support/drive-trip.ts';
import { startKafka, type KafkaCluster } from './support/kafka.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { waitFor } from './support/wait.ts';
import { BATCHED, center, dropoff, porto, twentyRideRace } from './support/race.ts';

/**
 * The same scale-out on Kafka (the librdkafka mock of test/support/kafka.ts, or KAFKA_BROKERS).
 * Accounts and claims are shared through Redis (REDIS_URL), as a multi-instance Kafka deployment
 * runs them; the event log, consumer groups and live push are Kafka's.
 */
describe('two instances on Kafka', () => {
  let kafka: KafkaCluster;
  let redis: RedisServer;
  let a: ServerProcess;
  let b: ServerProcess;
  let apiA: Http;
  let apiB: Http;
  let admin: string;
  let log: KafkaEventLog;
  const prefix = `kscale${process.pid}:`;
  const sockets: LiveSocket[] = [];

  const env = (id: string, policy: Record<string, string> = {}) => ({
    TRANSPORT: 'kafka',
    KAFKA_BROKERS: kafka.brokers.join(','),
    REDIS_URL: redis.url,
    STREAM_PREFIX: prefix,
    INSTANCE_ID: id,
    OFFER_TIMEOUT_MS: '5000',
    // The mock cannot do an idempotent producer nor CreateTopics (auto-creation on metadata works),
    // and holds every group (re)join for sessionTimeout - 1 s: short sessions keep start-up in seconds.
    KAFKA_IDEMPOTENT: kafka.real ? '1' : '0',
    KAFKA_CREATE_TOPICS: kafka.real ? '1' : '0',
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    KAFKA_REBALANCE_TIMEOUT_MS: '6000',
    KAFKA_HEARTBEAT_INTERVAL_MS: '300',
    KAFKA_MAX_WAIT_MS: '100',
    ...policy,
  });
  /** Starts both instances and waits for their consumer groups to settle. */
  async function startBoth(policy: Record<string, string> = {}, label = '', restart = false) {
    const start = (id: 'a' | 'b') => startServer({ name: `kafka instance ${id}${label}`, env: env(id, policy), readyTimeoutMs: 150_000 });
    if (restart) {
      // A restart, at once: the admin exists by now, and both join each group in one rebalance
      // rather than two (each join is held sessionTimeout − 1 s by the mock). Each one that started
      // is kept, so afterAll stops it even if the other did not start.
      const [startedA, startedB] = await Promise.allSettled([start('a'), start('b')]);
      if (startedA.status === 'fulfilled') a = startedA.value;
      if (startedB.status === 'fulfilled') b = startedB.value;
      for (const s of [startedA, startedB]) if (s.status === 'rejected') throw s.reason;
    } else {
      // One after the other: two instances starting at the same moment can both try to create the
      // configured admin, and the loser exits (see the report on accounts.ensure).
      a = await start('a');
      b = await start('b');
    }
    // A mock bug, not Kafka's: when a group rebalances, the mock completes the sync as soon as the
    // leader's SyncGroup carries every member's assignment, and answers a follower whose own SyncGroup
    // arrives after that with INVALID_REQUEST (a real broker returns the assignment). kafkajs treats
    // that error as fatal; the adapter then rejoins the group (adapters/kafka/subscription.ts). It
    // happens when a joining instance is slow to sync (busy replaying the log at start-up). Wait until
    // every member that crashed so has rejoined, on both instances, before the tests begin.
    await waitFor(() => unhealedGroups(a).length === 0 && unhealedGroups(b).length === 0, 'every crashed Kafka consumer to rejoin its group', 150_000);
    apiA = http(a.url, 30_000);
    apiB = http(b.url, 30_000);
    admin = (await apiA.login(TEST_ADMIN.username, TEST_ADMIN.password)).token;
  }

  beforeAll(async () => {
    [kafka, redis] = await Promise.all([startKafka(), startRedis()]);
    await startBoth();
    log = getKafkaEventLog({
      brokers: kafka.brokers,
      topicPrefix: prefix.replace(/:$/, '.'),
      createTopics: kafka.real,
      idempotent: kafka.real,
      consumer: { sessionTimeoutMs: 6_000, rebalanceTimeoutMs: 6_000, heartbeatIntervalMs: 300, maxWaitTimeMs: 100 },
      logger: { warn() {}, error() {} },
    });
  }, 330_000);

  afterAll(async () => {
    for (const s of sockets) s.close();
    await stopAll([a, b]);
    await log?.close();
    await Promise.all([kafka?.stop(), redis?.stop()]);
  }, 60_000);

  it('a rider connected to B sees, in order, every event caused through A', async () => {
    onTestFailed(() => console.error(diagnostics([a, b])));
    const rider = await apiA.user(admin, 'rider');
    const driver = await apiA.user(admin, 'driver');
    const riderOnB = await openSocket(b.url, rider.token);
    sockets.push(riderOnB);
    const requested = await apiA.post('/v1/rides', rider.token, { pickup: center, dropoff });
    expect(requested).toMatchObject({ status: 202, body: { status: 'requested' } });
    const { rideId } = requested.body;
    riderOnB.send({ type: 'subscribe', rideId });
    await riderOnB.waitFor((m) => m.type === 'ride.status' && m.event === 'RideRequested', 'the snapshot on B', 30_000);

    const driverOnA = await openSocket(a.url, driver.token);
    sockets.push(driverOnA);
    const t0 = Date.now() - 50_000;
    expect((await apiA.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
    expect((await apiA.post('/v1/drivers/me/locations', driver.token, { lat: center.lat + 0.001, lng: center.lng, recordedAt: t0 })).body.accepted).toBe(1);
    await driverOnA.waitFor((m) => m.type === 'ride.offer' && m.rideId === rideId, 'the offer pushed to the driver on A', 45_000);
    for (const step of ['accept', 'arrive', 'start']) expect((await apiA.post(`/v1/rides/${rideId}/${step}`, driver.token)).status).toBe(200);
    const onB = () => riderOnB.messages.some((m) => m.type === 'driver.location' && m.rideId === rideId);
    const lastPoint = await driveTrip(apiA, driver.token, center, dropoff, onB);
    await riderOnB.waitFor((m) => m.type === 'driver.location' && m.rideId === rideId && Date.parse(m.recordedAt) === lastPoint, 'the last trip location on B', 45_000);
    expect((await apiA.post(`/v1/rides/${rideId}/complete`, driver.token)).status).toBe(200);
    await riderOnB.waitFor((m) => m.type === 'ride.status' && m.event === 'PaymentCaptured', 'the payment on B', 45_000);
    expect((await apiA.post(`/v1/rides/${rideId}/rating`, rider.token, { stars: 4 })).status).toBe(201);
    await riderOnB.waitFor((m) => m.type === 'ride.status' && m.event === 'RideRated', 'the rating on B', 45_000);

    const history = await log.readKey('rides', rideId);
    const seen = riderOnB.messages.filter((m) => m.type === 'ride.status' && m.rideId === rideId);
    expect(seen.map((m) => m.eventId)).toEqual(history.map((e) => e.metadata.eventId));
    expect(seen.map((m) => m.event)).toEqual([
      'RideRequested', 'RideOffered', 'RideAccepted', 'DriverArrived', 'TripStarted', 'TripCompleted', 'FareCalculated', 'PaymentCaptured', 'RideRated',
    ]);
    const locations = riderOnB.messages.filter((m) => m.type === 'driver.location' && m.rideId === rideId).map((m) => Date.parse(m.recordedAt));
    expect(locations).toEqual([...locations].sort((x, y) => x - y));
    expect(locations).toContain(lastPoint);
    const captures = (await metric(a.url, 'ridecast_payment_capture_requests_total')) + (await metric(b.url, 'ridecast_payment_capture_requests_total'));
    console.info(`[scale-out/kafka] ride events checked ${history.length}, seen on B ${seen.length} in order; payment capture requests ${captures}`);
    expect(captures).toBe(1);
  }, 180_000);

  // Both instances write driver holds: the shared Redis claims arbitrate each driver version
  // (adapters/kafka/event-log.ts, versionArbiter), so Kafka needs no single writer.
  it('20 rides requested through both instances against 3 drivers: no driver is ever booked twice, each ride is paid once', async () => {
    onTestFailed(() => console.error(diagnostics([a, b])));
    await twentyRideRace({ a, b, apiA, apiB, admin, log, sockets, bothMatch: false, timeoutMs: 200_000, city: porto });
  }, 260_000);

  it('kill -9 of the instance holding the reactions partition: the other gets it in the rebalance, redelivery from the committed offset, applied once', async () => {
    onTestFailed(() => console.error(diagnostics([a, b])));
    // The adapter writes partition 0 only, so one member of each work-sharing group does all its work:
    // whoever asks the gateway for a warm-up ride's payment holds the reactions group's partition.
    const before = await Promise.all([a, b].map((s) => metric(s.url, 'ridecast_payment_capture_requests_total')));
    {
      const rider = await apiA.user(admin, 'rider');
      const driver = await apiA.user(admin, 'driver');
      const pickup = { lat: center.lat - 0.02, lng: center.lng };
      expect((await apiA.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
      expect((await apiA.post('/v1/drivers/me/locations', driver.token, { ...pickup, recordedAt: Date.now() })).body.accepted).toBe(1);
      const { rideId } = (await apiA.post('/v1/rides', rider.token, { pickup, dropoff })).body;
      await waitFor(async () => (await apiA.get(`/v1/rides/${rideId}`, driver.token)).body.status === 'offered', 'the warm-up offer', 45_000, 100);
      for (const step of ['accept', 'arrive', 'start', 'complete']) expect((await apiA.post(`/v1/rides/${rideId}/${step}`, driver.token)).status).toBe(200);
      await waitFor(async () => (await log.readKey('rides', rideId)).some((e) => e.type === 'PaymentCaptured'), 'the warm-up payment', 45_000, 100);
    }
    const after = await Promise.all([a, b].map((s) => metric(s.url, 'ridecast_payment_capture_requests_total')));
    expect(after[0]! - before[0]! + after[1]! - before[1]!).toBe(1);
    const [holder, survivor] = after[0]! > before[0]! ? [a, b] : [b, a];
    const [apiHolder, apiSurvivor] = holder === a ? [apiA, apiB] : [apiB, apiA];
    const capturesBefore = await metric(survivor.url, 'ridecast_payment_capture_requests_total');
    await waitFor(() => unhealedGroups(survivor).length === 0, `${survivor.name}'s crashed consumers to rejoin (a dead one could not take over)`, 60_000);
    const rider = await apiSurvivor.user(admin, 'rider');
    const driver = await apiSurvivor.user(admin, 'driver');
    const riderOnHolder = await openSocket(holder.url, rider.token);
    sockets.push(riderOnHolder);
    const driverOnSurvivor = await openSocket(survivor.url, driver.token);
    sockets.push(driverOnSurvivor);
    const t0 = Date.now() - 30_000;
    const pickup = { lat: center.lat + 0.02, lng: center.lng };
    expect((await apiSurvivor.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
    expect((await apiSurvivor.post('/v1/drivers/me/locations', driver.token, { ...pickup, recordedAt: t0 })).body.accepted).toBe(1);
    const requested = await apiHolder.post('/v1/rides', rider.token, { pickup, dropoff });
    expect(requested.status).toBe(202);
    const { rideId } = requested.body;
    riderOnHolder.send({ type: 'subscribe', rideId });
    await driverOnSurvivor.waitFor((m) => m.type === 'ride.offer' && m.rideId === rideId, 'the offer', 45_000);
    for (const step of ['accept', 'arrive', 'start']) expect((await apiSurvivor.post(`/v1/rides/${rideId}/${step}`, driver.token)).status).toBe(200);
    await riderOnHolder.waitFor((m) => m.type === 'ride.status' && m.event === 'TripStarted', 'the start, on the holder', 45_000);

    // Frozen, then killed: the completion is fetched by nobody (or by the frozen holder), never committed.
    // Which of the two happens is the broker's timing; both must end in one capture by the survivor.
    holder.freeze();
    expect((await apiSurvivor.post(`/v1/rides/${rideId}/complete`, driver.token)).status).toBe(200);
    await holder.crash();
    const killedAt = Date.now();
    await riderOnHolder.closed;
    const seenOnHolder = riderOnHolder.messages.filter((m) => m.type === 'ride.status' && m.rideId === rideId);
    const riderOnSurvivor = await openSocket(survivor.url, rider.token);
    sockets.push(riderOnSurvivor);
    riderOnSurvivor.send({ type: 'subscribe', rideId, after: seenOnHolder.at(-1)!.eventId });
    await riderOnSurvivor.waitFor((m) => m.type === 'ride.status' && m.event === 'PaymentCaptured', 'the payment after the rebalance', 90_000);
    const takeoverMs = Date.now() - killedAt;
    const freedFor = async () =>
      (await log.readKey('drivers', driver.userId)).some((e) => e.type === 'DriverFreed' && (e.data as { rideId: string }).rideId === rideId);
    await waitFor(freedFor, 'the driver to be freed after the rebalance', 30_000, 100);

    const history = await log.readKey('rides', rideId);
    const seen = [...seenOnHolder, ...riderOnSurvivor.messages.filter((m) => m.type === 'ride.status' && m.rideId === rideId)];
    const driverEvents = await log.readKey('drivers', driver.userId);
    const captures = (await metric(survivor.url, 'ridecast_payment_capture_requests_total')) - capturesBefore;
    console.info(
      `[scale-out/kafka] killed ${holder.name} (reactions partition holder); payment captured by ${survivor.name} ${takeoverMs} ms later; ` +
        `ride events ${history.length}, seen in order across the reconnect ${seen.length}; capture requests ${captures}`,
    );
    // From the snapshot it subscribed to (the request, or the offer if matching was quicker), every event once, in order.
    const from = history.findIndex((e) => e.metadata.eventId === seen[0]?.eventId);
    expect(from).toBeGreaterThanOrEqual(0);
    expect(from).toBeLessThanOrEqual(1);
    expect(seen.map((m) => m.eventId)).toEqual(history.slice(from).map((e) => e.metadata.eventId));
    expect(history.filter((e) => e.type === 'PaymentCaptured')).toHaveLength(1);
    expect(driverEvents.filter((e) => e.type === 'DriverFreed' && (e.data as { rideId: string }).rideId === rideId)).toHaveLength(1);
    expect(captures).toBe(1);
  }, 180_000);

  // After the kill -9 above one instance is gone anyway: both are started again under `batched`
  // (the log stays; they replay it) and race again. The instance that took over the reactions
  // partition keeps matching alone on events; the other joins through its retry sweep.
  it(`the same race under ${BATCHED.label}, both instances restarted with it: no driver is ever booked twice, each ride is paid once`, async () => {
    onTestFailed(() => console.error(diagnostics([a, b])));
    const restartedAt = Date.now();
    await stopAll([a, b]);
    await startBoth(BATCHED.env, ` (${BATCHED.label})`, true);
    console.info(`[scale-out/kafka] both instances restarted under ${BATCHED.label} in ${Date.now() - restartedAt} ms`);
    await twentyRideRace({ a, b, apiA, apiB, admin, log, sockets, bothMatch: false, timeoutMs: 200_000, city: BATCHED.city });
  }, 480_000);

  // What the Kafka deployment does not promise, or the mock cannot show: skipped, with the reason printed.
  for (const [name, reason] of KAFKA_NOT_TESTED) {
    it.skip(`${name} — not tested on Kafka: ${reason}`, () => undefined);
  }
  beforeAll(() => {
    for (const [name, reason] of KAFKA_NOT_TESTED) console.warn(`[scale-out/kafka] SKIPPED "${name}": ${reason}`);
  });
});

/** Consumer groups whose kafkajs consumer crashed for good in this server (the `Crash:` lines kafkajs logs). */
/** Groups whose consumer crashed for good more often than it rejoined (the adapter's own log lines). */
function unhealedGroups(server: ServerProcess): string[] {
  const balance = new Map<string, number>();
  for (const line of server.output().split('\n')) {
    const group = /"groupId":"([^"]+)"/.exec(line)?.[1];
    if (!group) continue;
    if (line.includes('crashed for good: rejoining')) balance.set(group, (balance.get(group) ?? 0) + 1);
    else if (line.includes('rejoined its group')) balance.set(group, (balance.get(group) ?? 0) - 1);
  }
  return [...balance].filter(([, n]) => n > 0).map(([group]) => group);
}

const KAFKA_NOT_TESTED: [string, string][] = [
  [
    'broker restart loses no acknowledged event',
    'the librdkafka mock cluster keeps everything in memory and cannot be restarted: stop() discards every topic, so there is nothing to recover ' +
      '(a real cluster: set KAFKA_BROKERS and restart a broker by hand).',
  ],
];
