// Two real server processes (src/main.ts) on one Redis: what "Scaling past one machine" in
// ARCHITECTURE.md promises, checked from outside: live push across instances, no double booking
// when both instances match at once, and work-shared groups that act once per event.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { getKafkaEventLog, type KafkaEventLog } from '../adapters/kafka/event-log.ts';
import type { RedisLocation } from '../adapters/redis/connection.ts';
import { getRedisEventLog, type RedisEventLog } from '../adapters/redis/event-log.ts';
import type { LatLng } from '../domain/geo.ts';
import type { EventLog, Recorded } from '../domain/ports/event-log.ts';
import { diagnostics, startServer, stopAll, TEST_ADMIN, type ServerProcess } from './support/server-process.ts';
import { http, type Http } from './support/http-client.ts';
import { openSocket, type LiveSocket } from './support/live-socket.ts';
import { metric } from './support/metrics.ts';
import { auditLog } from './support/audit.ts';
import { driveTrip } from './support/drive-trip.ts';
import { startKafka, type KafkaCluster } from './support/kafka.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { startRedisCluster } from './support/redis-cluster.ts';
import { times, waitFor } from './support/wait.ts';

const center = { lat: 38.7223, lng: -9.1393 };
const dropoff = { lat: 38.7369, lng: -9.1427 };
// Each race runs in a city of its own, out of reach of the other tests' drivers and rides (the
// drivers of an earlier race stay online in the fleet, with no bot to answer for them).
interface City {
  readonly name: string;
  readonly centre: LatLng;
  readonly dropoff: LatLng;
}
const porto: City = { name: 'Porto', centre: { lat: 41.1579, lng: -8.6291 }, dropoff: { lat: 41.1496, lng: -8.611 } };
const braga: City = { name: 'Braga', centre: { lat: 41.5454, lng: -8.4265 }, dropoff: { lat: 41.5518, lng: -8.4229 } };
const coimbra: City = { name: 'Coimbra', centre: { lat: 40.2033, lng: -8.4103 }, dropoff: { lat: 40.2111, lng: -8.4291 } };
const near = (city: City, i: number) => ({ lat: city.centre.lat + 0.0004 * Math.sin(i), lng: city.centre.lng + 0.0004 * Math.cos(i) });

/**
 * The races after the first one, each under another dispatch setting. The setting is per process
 * (MATCHING, OFFER_FANOUT), so the same two instances are restarted with it on the same backend: a
 * few seconds, against a second pair of processes and a second backend for the whole describe.
 */
interface PolicyRace {
  readonly label: string;
  readonly env: Record<string, string>;
  readonly city: City;
  readonly fanout?: number;
}
const BATCHED: PolicyRace = { label: 'MATCHING=batched (150 ms window)', env: { MATCHING: 'batched', BATCH_WINDOW_MS: '150' }, city: braga };
/** `batched` and fan-out in one restart (a restart and race cost the file ~26 s here): the window's alternates and top-ups race across instances too. */
const BATCHED_FANOUT: PolicyRace = {
  label: 'MATCHING=batched (150 ms window) with OFFER_FANOUT=3',
  env: { MATCHING: 'batched', BATCH_WINDOW_MS: '150', OFFER_FANOUT: '3' },
  city: coimbra,
  fanout: 3,
};

/** Where the two instances' Redis runs: one server, or a real 3-master Redis Cluster. */
interface RedisBackend {
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
const redisBackends: [string, () => Promise<RedisBackend>, typeof NEAREST, PolicyRace[]][] = [
  ['one Redis', async () => {
    const server = await startRedis();
    return { env: { REDIS_URL: server.url }, location: { url: server.url }, keysPerMaster: async () => [], stop: () => server.stop() };
  }, NEAREST, [BATCHED_FANOUT]],
  ['a 3-master Redis Cluster', async () => {
    const cluster = await startRedisCluster(3);
    return { env: { REDIS_CLUSTER_NODES: cluster.nodes.join(',') }, location: { clusterNodes: cluster.nodes }, keysPerMaster: cluster.keysPerMaster, stop: cluster.stop };
  }, NEAREST_FANOUT, [BATCHED]],
];

for (const [backendName, startBackend, first, races] of redisBackends) describe(`two instances on ${backendName}`, () => {
  let redis: RedisBackend;
  let a: ServerProcess;
  let b: ServerProcess;
  let apiA: Http;
  let apiB: Http;
  let admin: string;
  let log: RedisEventLog;
  const prefix = `scale${process.pid}:`;
  const sockets: LiveSocket[] = [];
  const offers = { a: 0, b: 0, races: 0 };
  const tally = (split: OfferSplit) => {
    offers.a += split.offersByA;
    offers.b += split.offersByB;
    offers.races++;
  };

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
    tally(await twentyRideRace({ a, b, apiA, apiB, admin, log, sockets, timeoutMs: 100_000, city: porto, fanout: first.fanout }));
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
      tally(await twentyRideRace({ a, b, apiA, apiB, admin, log, sockets, timeoutMs: 100_000, city: race.city, fanout: race.fanout }));
    }, 180_000);

  // Which member of the matcher group takes a ride's events, and which instance's window or sweep
  // wins the ride's lease, is up to Redis and the scheduler: one race may, on a loaded machine, be
  // matched by one instance alone (CI once saw 26 offers by A, 0 by B). Across the races it is not.
  it('both instances made offers across the races (the matching really ran on both)', () => {
    expect(offers.a, `offers by instance a over ${offers.races} races`).toBeGreaterThan(0);
    expect(offers.b, `offers by instance b over ${offers.races} races`).toBeGreaterThan(0);
  });
});

/** What the 20-ride race needs of a two-instance setup. */
interface RaceSetup {
  readonly a: ServerProcess;
  readonly b: ServerProcess;
  readonly apiA: Http;
  readonly apiB: Http;
  readonly admin: string;
  readonly log: EventLog;
  readonly sockets: LiveSocket[];
  readonly timeoutMs: number;
  /** Where the race's drivers and rides are: a city no earlier race used. */
  readonly city: City;
  /** The instances' OFFER_FANOUT (1 when absent): a ride is offered to this many drivers at once. */
  readonly fanout?: number;
}

/** 20 rides requested through both instances at once against 3 drivers: the race the matchers must not lose. */
/** Offers each instance made in one race (its `ridecast_offers_total`). */
interface OfferSplit {
  readonly offersByA: number;
  readonly offersByB: number;
}

/** The drivers an instance's own index holds as placed and available: its operators' fleet snapshot. */
async function availableInIndex(url: string, adminToken: string): Promise<Set<string>> {
  const socket = await openSocket(url, adminToken);
  try {
    socket.send({ type: 'subscribe', fleet: true });
    const snapshot = await socket.waitFor((m) => m.type === 'fleet.snapshot', 'the fleet snapshot');
    return new Set((snapshot.drivers as { driverId: string; status: string }[]).filter((d) => d.status === 'available').map((d) => d.driverId));
  } finally {
    socket.close();
  }
}

async function twentyRideRace({ a, b, apiA, apiB, admin, log, sockets, timeoutMs, city, fanout = 1 }: RaceSetup): Promise<OfferSplit> {
  const RIDES = 20;
  const DRIVERS = 3;
  const apis = [apiA, apiB];
  const capturesBefore = (await metric(a.url, 'ridecast_payment_capture_requests_total')) + (await metric(b.url, 'ridecast_payment_capture_requests_total'));
  const offersBeforeA = await metric(a.url, 'ridecast_offers_total');
  const offersBeforeB = await metric(b.url, 'ridecast_offers_total');
  const offersBefore = offersBeforeA + offersBeforeB;
  const drivers = await Promise.all(Array.from({ length: DRIVERS }, (_, i) => apis[i % 2]!.user(admin, 'driver')));
  const riders = await times(RIDES, 8, (i) => apis[i % 2]!.user(admin, 'rider'));

  // Driver bots: each listens on its own instance, lets one offer lapse (OfferExpired), declines one
  // (OfferDeclined), and takes the rest, doing each step through alternating instances. A ride is
  // passed on by one driver at most, so no ride runs out of drivers (a driver who passed is never
  // offered that ride again). With fan-out the bots answer every offer they get at once, so two of
  // them often accept one ride together: one wins, the other is refused and its offer withdrawn.
  const outcomes = { accepted: 0, acceptRefused: 0, ignored: 0, declined: 0, declineRefused: 0, stepFailures: [] as string[] };
  const busy = new Set<Promise<void>>();
  const passed = new Set<string>();
  const botSockets: LiveSocket[] = [];
  for (const [i, d] of drivers.entries()) {
    const home = apis[i % 2]!;
    const socket = await openSocket(home.url(), d.token);
    sockets.push(socket);
    botSockets.push(socket);
    let ignoreLeft = 1;
    let declineLeft = 1;
    let turn = i;
    socket.onMessage((m) => {
      if (m.type !== 'ride.offer') return;
      const rideId = m.rideId as string;
      const pass = !passed.has(rideId) && (ignoreLeft > 0 || declineLeft > 0);
      if (pass) passed.add(rideId);
      if (pass && ignoreLeft > 0) {
        ignoreLeft--;
        return void outcomes.ignored++;
      }
      const work = (async () => {
        if (pass) {
          declineLeft--;
          const r = await apis[turn++ % 2]!.post(`/v1/rides/${rideId}/decline`, d.token);
          if (r.status === 200) outcomes.declined++;
          else outcomes.declineRefused++;
          return;
        }
        const accepted = await apis[turn++ % 2]!.post(`/v1/rides/${rideId}/accept`, d.token);
        if (accepted.status !== 200) return void outcomes.acceptRefused++;
        outcomes.accepted++;
        for (const step of ['arrive', 'start', 'complete']) {
          const r = await apis[turn++ % 2]!.post(`/v1/rides/${rideId}/${step}`, d.token);
          if (r.status !== 200) outcomes.stepFailures.push(`${rideId} ${step}: ${r.status} ${JSON.stringify(r.body)}`);
        }
      })();
      busy.add(work);
      void work.finally(() => busy.delete(work));
    });
    expect((await home.put('/v1/drivers/me/availability', d.token, { available: true })).status).toBe(200);
    expect((await home.post('/v1/drivers/me/locations', d.token, { ...near(city, i), recordedAt: Date.now() })).status).toBe(202);
  }

  // Every instance's index must hold the three drivers, placed and available, before the first ride.
  // An instance learns availability from the drivers stream and, for drivers in other instances' GPS
  // shards, positions from the owners' fleet feed: a moment after the 202s. A matcher that knows one
  // driver then offers one (eventually consistent by design), and the fan-out race below never starts.
  await waitFor(
    async () => (await Promise.all([a, b].map((x) => availableInIndex(x.url, admin)))).every((ids) => drivers.every((d) => ids.has(d.userId))),
    'every instance’s index to hold the three drivers, placed and available', timeoutMs, 100,
  );

  const request = (i: number) => apis[i % 2]!.post('/v1/rides', riders[i]!.token, { pickup: near(city, i * 7), dropoff: city.dropoff });
  const ridesOf = async (rideIds: readonly string[]) => {
    const mine = new Set(rideIds);
    return (await log.read('rides')).filter((e) => mine.has(e.metadata.key));
  };
  // Fan-out: the first ride alone, while all three drivers are free, so it is surely offered to
  // more than one of them and a losing offer is surely withdrawn; then the rest all at once.
  const first = fanout > 1 ? [await request(0)] : [];
  if (first.length) {
    const firstId = first[0]!.body.rideId as string;
    await waitFor(async () => (await ridesOf([firstId])).some((e) => e.type === 'OfferWithdrawn'), 'the first ride’s losing offers to be withdrawn', timeoutMs, 100);
  }
  // All at once, half through each instance.
  const requests = [...first, ...(await Promise.all(riders.slice(first.length).map((_, i) => request(i + first.length))))];
  expect(requests.map((r) => r.status)).toEqual(Array(RIDES).fill(202));
  const rideIds = requests.map((r) => r.body.rideId as string);

  const paid = async () => {
    let n = 0;
    for (const rideId of rideIds) if ((await log.readKey('rides', rideId)).some((e) => e.type === 'PaymentCaptured')) n++;
    return n;
  };
  onTestFailed(async () => {
    const last: Record<string, number> = {};
    for (const rideId of rideIds) {
      const t = (await log.readKey('rides', rideId)).at(-1)?.type ?? 'none';
      last[t] = (last[t] ?? 0) + 1;
    }
    console.error(`[scale-out] rides by last event: ${JSON.stringify(last)}; bots ${JSON.stringify(outcomes)}`);
  });
  await waitFor(async () => (await paid()) === RIDES, `all ${RIDES} rides completed and paid`, timeoutMs, 250);
  await Promise.all([...busy]);
  // The reactions to the last completions (DriverFreed) and withdrawals (DriverOfferReleased) land
  // after the payments: wait until every driver's stream, folded, holds no offer and no ride.
  const allFreed = async () => {
    for (const d of drivers) if (!freeAtEnd(await log.readKey('drivers', d.userId))) return false;
    return true;
  };
  onTestFailed(async () => {
    for (const d of drivers) console.error(`[scale-out] ${d.userId} ends with ${(await log.readKey('drivers', d.userId)).slice(-4).map((e) => `${e.type} ${(e.data as { rideId?: string }).rideId ?? ''}`).join(', ')}`);
  });
  await waitFor(allFreed, 'every driver to be free (no hold, no ride) after the last trip', 30_000, 100);

  const audit = auditLog((await log.read('rides')) as Recorded[], (await log.read('drivers')) as Recorded[]);
  const ridesOfThisTest = await ridesOf(rideIds);
  const count = (type: string) => ridesOfThisTest.filter((e) => e.type === type).length;
  const offersByA = await metric(a.url, 'ridecast_offers_total');
  const offersByB = await metric(b.url, 'ridecast_offers_total');
  const capturesA = await metric(a.url, 'ridecast_payment_capture_requests_total');
  const capturesB = await metric(b.url, 'ridecast_payment_capture_requests_total');
  const captures = capturesA + capturesB - capturesBefore;
  console.info(
    `[scale-out] ${city.name}: rides ${RIDES}, drivers ${DRIVERS}, fan-out ${fanout}; ride events checked ${audit.rideEvents}, driver events ${audit.driverEvents}; ` +
      `offers ${count('RideOffered')} (by A ${offersByA}, by B ${offersByB}), expired ${count('OfferExpired')}, declined ${count('OfferDeclined')}, ` +
      `withdrawn ${count('OfferWithdrawn')}, accepted ${count('RideAccepted')}; payment capture requests ${captures}; ` +
      `double assignments ${audit.doubleAssignments.length + audit.driverStreamViolations.length}, duplicates ${audit.duplicates.length}; bots ${JSON.stringify(outcomes)}`,
  );

  expect(audit.doubleAssignments).toEqual([]);
  expect(audit.driverStreamViolations).toEqual([]);
  expect(audit.versionViolations).toEqual([]);
  expect(audit.duplicates).toEqual([]);
  expect(audit.orphanOfferEnds).toEqual([]);
  expect(audit.offersLeftOpen).toEqual([]);
  expect(outcomes.stepFailures).toEqual([]);
  expect(count('RideAccepted')).toBe(RIDES);
  expect(count('TripCompleted')).toBe(RIDES);
  expect(count('PaymentCaptured')).toBe(RIDES);
  // Every offer ended exactly once: taken, declined, lapsed or withdrawn (none is left open).
  expect(count('RideOffered')).toBe(count('RideAccepted') + count('OfferDeclined') + count('OfferExpired') + count('OfferWithdrawn'));
  // Every offer a bot let lapse or was refused on ended once, expired or (fan-out) withdrawn; every
  // decline it made was recorded once.
  expect(outcomes.ignored).toBeGreaterThan(0);
  expect(outcomes.declined).toBeGreaterThan(0);
  expect(count('OfferExpired') + count('OfferWithdrawn')).toBe(outcomes.ignored + outcomes.acceptRefused + outcomes.declineRefused);
  expect(count('OfferDeclined')).toBe(outcomes.declined);
  if (fanout === 1) expect(count('OfferWithdrawn')).toBe(0);
  else {
    // Fan-out happened, and every losing offer was withdrawn because another driver accepted, and
    // its driver was told (`ride.offer.withdrawn` on the socket of their own instance).
    const withdrawn = ridesOfThisTest.filter((e) => e.type === 'OfferWithdrawn') as Recorded[];
    expect(withdrawn.length).toBeGreaterThan(0);
    expect(withdrawn.map((e) => (e.data as { reason: string }).reason)).toEqual(withdrawn.map(() => 'accepted'));
    for (const e of withdrawn) {
      const { driverId } = e.data as { driverId: string };
      const socket = botSockets[drivers.findIndex((d) => d.userId === driverId)]!;
      await socket.waitFor((m) => m.type === 'ride.offer.withdrawn' && m.rideId === e.metadata.key && m.eventId === e.metadata.eventId, `${driverId} told of the withdrawal ${e.metadata.eventId}`);
    }
    // A winner never hears its own ride withdrawn.
    for (const [i, d] of drivers.entries()) {
      const won = new Set(ridesOfThisTest.filter((e) => e.type === 'RideAccepted' && (e.data as { driverId: string }).driverId === d.userId).map((e) => e.metadata.key));
      expect(botSockets[i]!.messages.filter((m) => m.type === 'ride.offer.withdrawn' && won.has(m.rideId as string))).toEqual([]);
    }
  }
  // Every offer was made by one of the two instances; the reactions group asked the gateway once per ride in all.
  expect(offersByA + offersByB - offersBefore).toBe(count('RideOffered'));
  expect(captures).toBe(RIDES);
  expect(outcomes.accepted).toBe(RIDES);
  // Every driver is free again: no hold left behind (a withdrawn offer's hold released), no ride.
  for (const d of drivers) expect(freeAtEnd(await log.readKey('drivers', d.userId)), d.userId).toBe(true);
  return { offersByA: offersByA - offersBeforeA, offersByB: offersByB - offersBeforeB };
}

/**
 * A driver's stream, folded: holding neither an offer nor a ride. With fan-out the last event may be
 * the release of a withdrawn offer's hold rather than DriverFreed, and a driver may end the race
 * without a trip at all (every offer they held was won by another, declined or withdrawn), so a
 * DriverFreed is not required: a ride assigned and not yet freed is what the fold catches.
 */
function freeAtEnd(history: readonly { type: string; data: unknown }[]): boolean {
  let held: string | null = null;
  let ride: string | null = null;
  for (const e of history) {
    const { rideId } = e.data as { rideId?: string };
    if (e.type === 'DriverOfferHeld') held = rideId!;
    else if (e.type === 'DriverOfferReleased' && held === rideId) held = null;
    else if (e.type === 'DriverAssigned') (held = null), (ride = rideId!);
    else if (e.type === 'DriverFreed' && ride === rideId) ride = null;
  }
  return held === null && ride === null;
}

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
    await twentyRideRace({ a, b, apiA, apiB, admin, log, sockets, timeoutMs: 200_000, city: porto });
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
    await twentyRideRace({ a, b, apiA, apiB, admin, log, sockets, timeoutMs: 200_000, city: BATCHED.city });
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
