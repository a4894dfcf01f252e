// Faults with real processes: an instance killed -9 in the middle of the stream, and Redis itself
// crashing (SIGKILL, AOF with appendfsync always) and coming back under load.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { getRedisEventLog, type RedisEventLog } from '../adapters/redis/event-log.ts';
import { shardKeysOf } from '../adapters/redis/scripts.ts';
import type { Recorded, StreamName } from '../domain/ports/event-log.ts';
import { diagnostics, startServer, stopAll, TEST_ADMIN, type ServerProcess } from './support/server-process.ts';
import { http, type Http } from './support/http-client.ts';
import { openSocket, type LiveSocket } from './support/live-socket.ts';
import { metric } from './support/metrics.ts';
import { auditLog } from './support/audit.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { sleep, times, waitFor } from './support/wait.ts';

const center = { lat: 38.7223, lng: -9.1393 };
const dropoff = { lat: 38.7369, lng: -9.1427 };
const near = (i: number, r = 0.0005) => ({ lat: center.lat + r * Math.sin(i), lng: center.lng + r * Math.cos(i) });
/** Groups every instance shares (one member handles each event), per stream. */
const SHARED_GROUPS = [
  ['rides', 'matcher'],
  ['rides', 'reactions'],
  ['drivers', 'geo'],
  // Partitioned GPS work: the owner's shards and what it held go to the survivor (lease lapse). The
  // owner also feeds the GEO projection from that read (no `geo` group on driver-locations).
  ['driver-locations', 'gps'],
] as const;

describe('faults, with two instances on one Redis (AOF, appendfsync always)', () => {
  let redis: RedisServer;
  let raw: Redis;
  let a: ServerProcess;
  let b: ServerProcess;
  let apiA: Http;
  let apiB: Http;
  let admin: string;
  let log: RedisEventLog;
  const prefix = `fault${process.pid}:`;
  const sockets: LiveSocket[] = [];
  const streamKey = (stream: string) => `${prefix}{${stream}}`;
  // driver-locations is sharded by driver: its groups' pending entries are spread over the shards.
  const LOCATION_SHARDS = 4;
  const streamKeys = (stream: StreamName) => shardKeysOf(prefix, stream, LOCATION_SHARDS).map((k) => k.stream);
  const env = (id: string) => ({
    TRANSPORT: 'redis',
    STREAM_PREFIX: prefix,
    INSTANCE_ID: id,
    OFFER_TIMEOUT_MS: '3000',
    MATCH_TIMEOUT_MS: '120000',
    // B takes over a dead member's pending entries after 1 s idle rather than the default 30 s. A's
    // reads block until its own next claim check: at 1 s, a burst that reached Redis more than 1 s
    // after A froze (a loaded machine) found no read of A's still blocked, and A was handed nothing.
    // At 5 s A's blocked reads outlive the burst; A is frozen then killed, so it never claims anyway.
    CLAIM_IDLE_MS: id === 'a' ? '5000' : '1000',
    LOCATION_SHARDS: String(LOCATION_SHARDS),
    SHARD_LEASE_MS: '2000',
    REDIS_URL: redis.url,
  });

  beforeAll(async () => {
    redis = await startRedis({ aof: true, appendfsync: 'always' });
    raw = new Redis(redis.url, { protocol: 2, maxRetriesPerRequest: 1, retryStrategy: () => 200 } as never);
    raw.on('error', () => undefined);
    a = await startServer({ name: 'instance a', env: env('a') });
    b = await startServer({ name: 'instance b', env: env('b') });
    apiA = http(a.url);
    apiB = http(b.url);
    admin = (await apiB.login(TEST_ADMIN.username, TEST_ADMIN.password)).token;
    log = getRedisEventLog({ url: redis.url, prefix, locationShards: LOCATION_SHARDS, logger: { warn() {}, error() {} } });
  }, 120_000);

  afterAll(async () => {
    for (const s of sockets) s.close();
    await stopAll([a, b]);
    await log?.close();
    raw?.disconnect();
    await redis?.stop();
  }, 60_000);

  const onFailure = () => onTestFailed(() => console.error(diagnostics([a, b])));

  /** Entries of the shared groups pending on one consumer: [stream, group, id]. */
  async function pendingOn(consumer: string): Promise<[string, string, string][]> {
    const out: [string, string, string][] = [];
    for (const [stream, group] of SHARED_GROUPS) {
      for (const key of streamKeys(stream)) {
        const rows = (await raw.call('XPENDING', key, group, '-', '+', 1000, consumer).catch(() => [])) as [string][];
        for (const [id] of rows) out.push([stream, group, id]);
      }
    }
    return out;
  }
  async function redisUp(): Promise<boolean> {
    return (await raw.ping().catch(() => null)) === 'PONG';
  }
  /**
   * Every shared group has been handed every entry of its streams and acknowledged it: what reactions
   * there were have landed (each is appended before its cause is acknowledged) and none is coming.
   */
  async function caughtUp(): Promise<boolean> {
    for (const [stream, group] of SHARED_GROUPS) {
      for (const key of streamKeys(stream)) {
        const info = (await raw.call('XINFO', 'STREAM', key).catch(() => null)) as (string | number)[] | null;
        if (!info) continue; // no such shard yet: nothing appended to it
        const last = String(info[info.indexOf('last-generated-id') + 1]);
        const groups = (await raw.call('XINFO', 'GROUPS', key)) as (string | number)[][];
        const g = groups.find((row) => row[row.indexOf('name') + 1] === group);
        if (!g || g[g.indexOf('pending') + 1] !== 0 || String(g[g.indexOf('last-delivered-id') + 1]) !== last) return false;
      }
    }
    return true;
  }
  async function pendingTotal(): Promise<number> {
    let n = 0;
    for (const [stream, group] of SHARED_GROUPS) {
      for (const key of streamKeys(stream)) {
        const summary = (await raw.call('XPENDING', key, group).catch(() => [0])) as [number | string];
        n += Number(summary[0]);
      }
    }
    return n;
  }

  it('kill -9 of an instance mid-stream: the other takes over its pending events, each applied once, and clients resume there with `after`', async () => {
    onFailure();
    const rider = await apiB.user(admin, 'rider');
    const driver = await apiB.user(admin, 'driver');
    const helpers = await Promise.all([0, 1].map(() => apiB.user(admin, 'driver')));
    const others = await Promise.all(Array.from({ length: 6 }, () => apiB.user(admin, 'rider')));

    // Helper drivers (on B) take whatever they are offered, so the other rides finish too.
    const helperWork: Promise<void>[] = [];
    for (const [i, h] of helpers.entries()) {
      const s = await openSocket(b.url, h.token);
      sockets.push(s);
      s.onMessage((m) => {
        if (m.type !== 'ride.offer') return;
        helperWork.push(
          (async () => {
            if ((await apiB.post(`/v1/rides/${m.rideId}/accept`, h.token)).status !== 200) return;
            for (const step of ['arrive', 'start', 'complete']) await apiB.post(`/v1/rides/${m.rideId}/${step}`, h.token);
          })(),
        );
      });
      expect((await apiB.put('/v1/drivers/me/availability', h.token, { available: true })).status).toBe(200);
      expect((await apiB.post('/v1/drivers/me/locations', h.token, { ...near(i + 10, 0.003), recordedAt: Date.now() })).status).toBe(202);
    }

    // The focal ride: its rider watches through A, which will die; its driver works through B.
    const driverOnB = await openSocket(b.url, driver.token);
    sockets.push(driverOnB);
    const t0 = Date.now() - 30_000;
    expect((await apiB.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
    expect((await apiB.post('/v1/drivers/me/locations', driver.token, { lat: center.lat, lng: center.lng + 0.0002, recordedAt: t0 })).body.accepted).toBe(1);
    const riderOnA = await openSocket(a.url, rider.token);
    sockets.push(riderOnA);
    const requested = await apiA.post('/v1/rides', rider.token, { pickup: center, dropoff });
    expect(requested.status).toBe(202);
    const { rideId } = requested.body;
    riderOnA.send({ type: 'subscribe', rideId });
    const offer = await driverOnB.waitFor((m) => m.type === 'ride.offer' && m.rideId === rideId, 'the offer');
    expect(offer.rideId).toBe(rideId);
    expect((await apiB.post(`/v1/rides/${rideId}/accept`, driver.token)).status).toBe(200);
    await riderOnA.waitFor((m) => m.type === 'ride.status' && m.event === 'RideAccepted', 'the acceptance on A');
    await waitFor(async () => (await pendingTotal()) === 0, 'the shared groups to be idle', 15_000, 50);
    // No ride has been completed yet: neither instance has asked the payment gateway anything.
    expect(await metric(a.url, 'ridecast_payment_capture_requests_total')).toBe(0);
    const capturesBefore = await metric(b.url, 'ridecast_payment_capture_requests_total');

    // Freeze A, then a burst of work: A's blocked readers are handed some of it and never answer.
    a.freeze();
    const burst: Promise<unknown>[] = [];
    burst.push(...others.map((r, i) => apiB.post('/v1/rides', r.token, { pickup: near(i, 0.003), dropoff })));
    // What A's blocked reads were handed is looked at as soon as there is some, before B's takeover
    // (CLAIM_IDLE_MS, SHARD_LEASE_MS) can move it: on a loaded machine the trip below takes longer than that.
    const heldEarly = await waitFor(async () => {
      const held = await pendingOn('a');
      return held.length > 0 ? held : null;
    }, 'A to be handed something while frozen', 5_000, 20).catch(() => []);
    for (const step of ['arrive', 'start']) expect((await apiB.post(`/v1/rides/${rideId}/${step}`, driver.token)).status).toBe(200);
    for (let i = 1; i <= 5; i++) {
      const p = { lat: center.lat + ((dropoff.lat - center.lat) * i) / 5, lng: center.lng + ((dropoff.lng - center.lng) * i) / 5, recordedAt: t0 + i * 6_000 };
      expect((await apiB.post('/v1/drivers/me/locations', driver.token, p)).body.accepted).toBe(1);
    }
    expect((await apiB.post(`/v1/rides/${rideId}/complete`, driver.token)).status).toBe(200);
    expect((await Promise.all(burst)).map((r) => (r as { status: number }).status)).toEqual(others.map(() => 202));
    // Redis hands new entries to A's blocked reads as they are appended: wait until A holds some
    // (or held some early on, before B's takeover could move them).
    const heldLater = await waitFor(async () => {
      const held = await pendingOn('a');
      return (held.length > 0 || heldEarly.length > 0) && held;
    }, 'A to be handed entries it cannot acknowledge (the crash lands mid-stream)', 15_000, 50);
    const heldByA = [...heldEarly, ...heldLater.filter(([, g, id]) => !heldEarly.some(([, g2, id2]) => g2 === g && id2 === id))];
    const heldEvents: { stream: string; group: string; type: string; key: string; id: string }[] = [];
    for (const [stream, group, id] of heldByA) {
      const [entry] = (await log.read(stream as never, { after: prevId(id), limit: 1 })) as Recorded[];
      heldEvents.push({ stream, group, id, type: entry?.type ?? '?', key: entry?.metadata.key ?? '?' });
    }

    // kill -9 while frozen: A never acknowledges what it was handed.
    await a.crash();
    const code = await riderOnA.closed;
    const seenOnA = riderOnA.messages.filter((m) => m.type === 'ride.status' && m.rideId === rideId);
    const lastSeen = seenOnA.at(-1)!.eventId as string;

    // The rider's app reconnects to the surviving instance and resumes after what it saw.
    const riderOnB = await openSocket(b.url, rider.token);
    sockets.push(riderOnB);
    riderOnB.send({ type: 'subscribe', rideId, after: lastSeen });
    await riderOnB.waitFor((m) => m.type === 'ride.status' && m.event === 'PaymentCaptured', 'the payment, on B', 30_000);

    // Everything A held is taken over by B (XAUTOCLAIM after CLAIM_IDLE_MS) and acknowledged.
    await waitFor(async () => (await pendingOn('a')).length === 0, 'A’s pending entries to be taken over', 20_000, 100);
    const otherIds = (await Promise.all(burst)).map((r) => (r as { body: { rideId: string } }).body.rideId);
    await waitFor(
      async () => {
        let n = 0;
        for (const id of otherIds) if ((await log.readKey('rides', id)).some((e) => e.type === 'PaymentCaptured')) n++;
        return n === otherIds.length;
      },
      'the other rides to be completed and paid',
      60_000,
      250,
    );
    await Promise.all(helperWork);
    await waitFor(caughtUp, 'every shared group to have read and acknowledged everything appended', 15_000, 100);

    // Exactly once in effect, for what A held and for everything else.
    const history = await log.readKey('rides', rideId);
    const audit = auditLog((await log.read('rides')) as Recorded[], (await log.read('drivers')) as Recorded[]);
    const effects = await Promise.all(heldEvents.map((h) => effectOf(h)));
    const captures = (await metric(b.url, 'ridecast_payment_capture_requests_total')) - capturesBefore;
    const seen = [...seenOnA, ...riderOnB.messages.filter((m) => m.type === 'ride.status' && m.rideId === rideId)];
    console.info(
      `[fault/kill-9] A held ${heldEvents.length} entries of shared groups when killed: ${JSON.stringify(heldEvents.map((h) => `${h.group}:${h.type}`))}; ` +
        `socket on A closed with ${code}; rider resumed on B after ${lastSeen}; ride events checked ${audit.rideEvents}, driver events ${audit.driverEvents}, ` +
        `rides ${1 + otherIds.length}; capture requests ${captures}; double assignments ${audit.doubleAssignments.length + audit.driverStreamViolations.length}; duplicates ${audit.duplicates.length}; dead letters ${await raw.xlen(`${streamKey('rides')}:dead`)}`,
    );

    expect(heldEvents.length, 'A held nothing when it was killed: the crash did not land mid-stream').toBeGreaterThan(0);
    expect(effects.filter((e) => e !== 'once')).toEqual([]);
    expect(audit.doubleAssignments).toEqual([]);
    expect(audit.driverStreamViolations).toEqual([]);
    expect(audit.versionViolations).toEqual([]);
    expect(audit.duplicates).toEqual([]);
    expect(audit.orphanOfferEnds).toEqual([]);
    // A died before any of these rides was completed: B asked the gateway once per ride, no more.
    expect(captures).toBe(1 + otherIds.length);
    expect(await raw.xlen(`${streamKey('rides')}:dead`)).toBe(0);
    // The rider saw every event of the ride from its first (the snapshot it subscribed to: the request,
    // or the offer when matching was quicker) in order, once: part on A, the rest on B after reconnecting.
    const from = history.findIndex((e) => e.metadata.eventId === seen[0]?.eventId);
    expect(from).toBeGreaterThanOrEqual(0);
    expect(from).toBeLessThanOrEqual(1);
    expect(seen.map((m) => m.eventId)).toEqual(history.slice(from).map((e) => e.metadata.eventId));

    /** What handling an event A held should have caused, counted in the log: 'once', or what went wrong. */
    async function effectOf(h: { stream: string; group: string; type: string; key: string }): Promise<string> {
      const rideEvents = h.stream === 'rides' ? await log.readKey('rides', h.key) : [];
      const driverOf = (type: string) => (rideEvents.find((e) => e.type === type)?.data as { driverId?: string } | undefined)?.driverId;
      const countOn = async (driverId: string | undefined, type: string) =>
        driverId ? (await log.readKey('drivers', driverId)).filter((e) => e.type === type && (e.data as { rideId: string }).rideId === h.key).length : -1;
      const once = (n: number, what: string) => (n === 1 ? 'once' : `${h.group}:${h.type} ${h.key}: ${what} × ${n}`);
      if (h.group === 'reactions') {
        if (h.type === 'RideAccepted') return once(await countOn(driverOf('RideAccepted'), 'DriverAssigned'), 'DriverAssigned');
        if (h.type === 'TripCompleted') return once(await countOn(driverOf('TripCompleted'), 'DriverFreed'), 'DriverFreed');
        if (h.type === 'FareCalculated') return once(rideEvents.filter((e) => e.type === 'PaymentCaptured').length, 'PaymentCaptured');
        if (h.type === 'OfferExpired' || h.type === 'OfferDeclined') return once(await countOn((rideEvents.find((e) => e.type === h.type)?.data as { driverId: string }).driverId, 'DriverOfferReleased'), 'DriverOfferReleased');
        return 'once'; // no reaction to this type
      }
      if (h.group === 'matcher' && h.type === 'RideRequested') return once(Math.min(1, rideEvents.filter((e) => e.type === 'RideOffered').length), 'RideOffered (at least one)');
      return 'once'; // geo positions and the matcher's other triggers: idempotent state, nothing to count
    }
  }, 180_000);

  it('Redis killed -9 and restarted under load: /readyz is 503 while it is down, both instances recover by themselves, no acknowledged event is lost', async () => {
    onFailure();
    // The instance killed above comes back under the same name (it resumes its own consumer groups).
    // Had the test above failed before its kill, A would still be frozen (alive, answering nothing): kill it first.
    await a.crash();
    a = await startServer({ name: 'instance a (restarted)', env: env('a') });
    apiA = http(a.url, 12_000);
    apiB = http(b.url, 12_000);
    const apis = [apiA, apiB];
    const servers = [a, b];
    const drivers = await times(16, 8, (i) => apis[i % 2]!.user(admin, 'driver'));
    const riders = await times(120, 8, (i) => apis[i % 2]!.user(admin, 'rider'));

    const acked = new Map<string, Set<number>>(drivers.map((d) => [d.userId, new Set<number>()]));
    const tally = { pointsSent: 0, pointsAcked: 0, pointsFailed: 0, ridesAcked: 0, ridesFailed: 0, cancelsAcked: 0, cancelsFailed: 0, ackedWhileDown: 0 };
    const ackedRides: string[] = [];
    const ackedCancels: string[] = [];
    const failures: Record<string, number> = {};
    const fail = (what: string, r: { status: number; body: { code?: string }; error?: string }) => {
      const k = `${what} ${r.status} ${r.body?.code ?? r.error?.slice(0, 60) ?? ''}`;
      failures[k] = (failures[k] ?? 0) + 1;
    };
    let running = true;
    let downAt = Infinity;
    let upAt = Infinity;
    // What the load did in each phase, so the test moves on once each phase has been exercised.
    const phase = { sentWhileDown: 0, ridesTriedWhileDown: 0, pointsAckedAfterUp: 0, ridesAckedAfterUp: 0, ridersDone: false };

    // Open loop, as devices do: each driver posts a point every ~half second (the screening's
    // minimum gap between two fixes of one device) whether or not the last one was answered, so
    // requests pile up in flight while Redis is down. Alternating instances.
    const inFlight = new Set<Promise<void>>();
    const track = (p: Promise<void>) => {
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    const driverLoops = drivers.map(async (d, i) => {
      for (let n = 0; running; n++) {
        const at = Date.now();
        const point = { lat: center.lat + 0.01 * i + n * 0.000005, lng: center.lng, recordedAt: at };
        tally.pointsSent++;
        if (at >= downAt && at < upAt) phase.sentWhileDown++;
        track(
          (async () => {
            const r = await apis[n % 2]!.post('/v1/drivers/me/locations', d.token, point);
            if (r.status === 202 && r.body.accepted === 1) {
              tally.pointsAcked++;
              acked.get(d.userId)!.add(at);
              if (at >= downAt && at < upAt) tally.ackedWhileDown++;
              if (at >= upAt) phase.pointsAckedAfterUp++;
            } else {
              tally.pointsFailed++;
              fail('location', r);
            }
          })(),
        );
        await sleep(520);
      }
    });
    // A rider every 100 ms requests a ride through one instance and, once it is acknowledged, cancels it through the other.
    const riderLoops = [
      (async () => {
        for (let k = 0; running && k < riders.length; k++) {
          const rider = riders[k]!;
          const askedAt = Date.now();
          if (askedAt >= downAt && askedAt < upAt) phase.ridesTriedWhileDown++;
          track(
            (async () => {
              const requested = await apis[k % 2]!.post('/v1/rides', rider.token, { pickup: near(k), dropoff });
              if (requested.status !== 202) {
                tally.ridesFailed++;
                return fail('request', requested);
              }
              tally.ridesAcked++;
              if (askedAt >= upAt) phase.ridesAckedAfterUp++;
              ackedRides.push(requested.body.rideId);
              const cancelled = await apis[(k + 1) % 2]!.post(`/v1/rides/${requested.body.rideId}/cancel`, rider.token, { reason: 'load test' });
              if (cancelled.status === 200) {
                tally.cancelsAcked++;
                ackedCancels.push(requested.body.rideId);
              } else {
                tally.cancelsFailed++;
                fail('cancel', cancelled);
              }
            })(),
          );
          await sleep(100);
        }
        phase.ridersDone = true;
      })(),
    ];
    // Readiness and liveness of both instances, every 100 ms.
    const probes: { t: number; server: number; ready: number; live: number }[] = [];
    const prober = (async () => {
      while (running) {
        await Promise.all(
          servers.map(async (srv, i) => {
            const get = async (path: string) => {
              try {
                return (await fetch(`${srv.url}${path}`, { signal: AbortSignal.timeout(3_000) })).status;
              } catch {
                return 0;
              }
            };
            const t = Date.now();
            const [ready, live] = await Promise.all([get('/readyz'), get('/healthz')]);
            probes.push({ t, server: i, ready, live });
          }),
        );
        await sleep(100);
      }
    })();
    const readyBoth = () => [0, 1].every((i) => probes.filter((p) => p.server === i).at(-1)?.ready === 200);

    try {
      // Load flowing before the outage: points and rides acknowledged through both instances.
      await waitFor(() => tally.pointsAcked >= 50 && tally.ridesAcked >= 5 && readyBoth(), 'load acknowledged and both instances ready before the outage', 30_000, 50);
      downAt = Date.now();
      await redis.kill();
      await waitFor(() => [0, 1].every((i) => probes.some((p) => p.server === i && p.t > downAt && p.ready === 503)), 'both instances to report 503', 10_000, 50);
      // Writes pile up while it is down: every driver has sent two points and riders several rides into the outage.
      await waitFor(() => phase.sentWhileDown >= 2 * drivers.length && (phase.ridesTriedWhileDown >= 5 || phase.ridersDone), 'writes sent while Redis is down', 30_000, 50);
      await redis.start();
      upAt = Date.now();
      await waitFor(() => [0, 1].every((i) => probes.filter((p) => p.server === i && p.t > upAt).at(-1)?.ready === 200), 'both instances ready again', 30_000, 50);
      const recoveredMs = Date.now() - upAt;
      // Served again, not only ready: points and rides sent after the restart are acknowledged.
      await waitFor(() => phase.pointsAckedAfterUp >= 50 && (phase.ridesAckedAfterUp >= 3 || phase.ridersDone), 'writes acknowledged after the restart', 30_000, 50);
      running = false;
      await Promise.all([...driverLoops, ...riderLoops, prober]);
      while (inFlight.size > 0) await Promise.all([...inFlight]);

      // The pipelines recovered too: a new ride through A is pushed to its rider on B.
      const rider = await apiA.user(admin, 'rider');
      const watcher = await openSocket(b.url, rider.token);
      sockets.push(watcher);
      const late = await apiA.post('/v1/rides', rider.token, { pickup: center, dropoff });
      expect(late.status).toBe(202);
      watcher.send({ type: 'subscribe', rideId: late.body.rideId });
      await watcher.waitFor((m) => m.type === 'ride.status' && m.event === 'RideRequested', 'the new ride on B');
      expect((await apiA.post(`/v1/rides/${late.body.rideId}/cancel`, rider.token, {})).status).toBe(200);
      await watcher.waitFor((m) => m.type === 'ride.status' && m.event === 'RideCancelled', 'its cancellation on B');
      await waitFor(async () => (await pendingTotal()) === 0, 'the shared groups to drain', 20_000, 100);

      // Count what was acknowledged against what the log holds.
      const locations = (await log.read('driver-locations')) as Recorded<{ type: string; data: { driverId: string; recordedAt: number } }>[];
      const inLog = new Map<string, number[]>();
      for (const e of locations) if (acked.has(e.data.driverId)) (inLog.get(e.data.driverId) ?? inLog.set(e.data.driverId, []).get(e.data.driverId)!).push(e.data.recordedAt);
      let lostPoints = 0;
      let duplicatePoints = 0;
      let unackedButLogged = 0;
      for (const [driverId, ackedAt] of acked) {
        const logged = inLog.get(driverId) ?? [];
        const set = new Set(logged);
        duplicatePoints += logged.length - set.size;
        for (const at of ackedAt) if (!set.has(at)) lostPoints++;
        for (const at of set) if (!ackedAt.has(at)) unackedButLogged++;
      }
      const rides = (await log.read('rides')) as Recorded[];
      const requestedIds = new Set(rides.filter((e) => e.type === 'RideRequested').map((e) => e.metadata.key));
      const cancelledIds = new Set(rides.filter((e) => e.type === 'RideCancelled').map((e) => e.metadata.key));
      const lostRides = ackedRides.filter((id) => !requestedIds.has(id));
      const lostCancels = ackedCancels.filter((id) => !cancelledIds.has(id));
      // The other way round (not a loss, but a client told "failed" about a write that happened):
      // rides of these riders in the log whose request was not acknowledged, cancels likewise.
      const riderIds = new Set(riders.map((r) => r.userId));
      const ackedSet = new Set(ackedRides);
      const unackedRides = rides.filter((e) => e.type === 'RideRequested' && riderIds.has((e.data as { riderId: string }).riderId) && !ackedSet.has(e.metadata.key)).length;
      const ackedCancelSet = new Set(ackedCancels);
      const unackedCancels = ackedRides.filter((id) => cancelledIds.has(id) && !ackedCancelSet.has(id)).length;
      const audit = auditLog(rides, (await log.read('drivers')) as Recorded[]);
      const notReady = (i: number) => probes.filter((p) => p.server === i && p.ready !== 200).length;
      const liveFailures = probes.filter((p) => p.live !== 200).length;
      console.info(
        `[fault/redis-restart] Redis down ${upAt - downAt} ms, both ready again ${recoveredMs} ms after it was back; /readyz not-200 probes: a ${notReady(0)}, b ${notReady(1)}; /healthz failures ${liveFailures}; ` +
          `locations acked ${tally.pointsAcked} of ${tally.pointsSent} sent (${tally.ackedWhileDown} of them sent while Redis was down), lost ${lostPoints}, duplicated ${duplicatePoints}, logged without an ack ${unackedButLogged}; ` +
          `rides acked ${tally.ridesAcked} of ${tally.ridesAcked + tally.ridesFailed} (lost ${lostRides.length}, in the log though refused ${unackedRides}), cancels acked ${tally.cancelsAcked} (lost ${lostCancels.length}, applied though refused ${unackedCancels}); ride events checked ${audit.rideEvents}; refused: ${JSON.stringify(failures)}`,
      );

      expect(lostPoints).toBe(0);
      expect(lostRides).toEqual([]);
      expect(lostCancels).toEqual([]);
      expect(audit.versionViolations).toEqual([]);
      expect(audit.duplicates).toEqual([]);
      expect(tally.pointsAcked).toBeGreaterThan(100);
      expect(tally.ridesAcked).toBeGreaterThan(10);
      // Liveness is not readiness: the processes stayed up and said so throughout.
      expect(liveFailures).toBe(0);
      expect(a.alive() && b.alive()).toBe(true);
    } finally {
      running = false;
      if (!(await redisUp())) await redis.start().catch(() => undefined);
    }
  }, 180_000);
});

/** The stream id just before `id`, so `read({after})` starts at `id`. */
function prevId(id: string): string {
  const [ms, seq] = id.split('-').map(Number) as [number, number];
  return seq > 0 ? `${ms}-${seq - 1}` : `${ms - 1}-18446744073709551615`;
}
