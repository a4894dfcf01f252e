// The server the scenarios load, as a child process (bench/lib/child.ts starts it).
//
// BENCH_MODE=service (default): the whole service as makeService wires it, consumers on, via the
//   test helper startService, on TRANSPORT memory | redis (REDIS_URL, production adapter settings from
//   src/infrastructure.ts) | kafka (KAFKA_BROKERS). Adds bench-only routes under /bench.
// BENCH_MODE=bare: a bare Fastify route with the same body schema as POST /v1/drivers/me/locations,
//   answering 202. BENCH_MODE=bare-xadd: the same plus one raw XADD (ioredis, auto-pipelined) per request.
// BENCH_MODE=bare-live: bare Fastify + WebSocket, each POST pushed at once to the socket watching that
//   driver's ride (bench/lib/bare-live.ts): the floor of the e2e scenario's live path.
//
// Prints one line `{"ready":true,"url":…,"port":…,"pid":…}` when listening; exits when stdin closes.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { shardKeysOf } from '../adapters/redis/scripts.ts';
import { Kafka, logLevel } from 'kafkajs';
import { LocationsBody, LocationsReply } from '../adapters/http/schemas.ts';
import { bareLiveRoutes } from './lib/bare-live.ts';
import type { TripInfo } from './lib/live.ts';
import { getKafkaEventLog } from '../adapters/kafka/event-log.ts';
import type { Actor } from '../domain/actor.ts';
import { handle } from '../domain/handle.ts';
import { rideDecider } from '../domain/ride/index.ts';
import { loadConfig } from '../src/config.ts';
import { makeInfrastructure } from '../src/infrastructure.ts';
import type { Infrastructure } from '../src/wiring.ts';
import { ADMIN, startService } from '../test/support/service.ts';

const mode = process.env.BENCH_MODE ?? 'service';
const transport = (process.env.TRANSPORT ?? 'memory') as 'memory' | 'redis' | 'kafka';

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

const eld = monitorEventLoopDelay({ resolution: 1 });
eld.enable();
let cpuMark = process.cpuUsage();
/**
 * GC pauses since the last reset, by kind (minor = scavenge, major = mark-compact): a stall in the
 * event-loop delay that matches a pause here is the collector's, not a long task of ours.
 */
const gcPauses = { minor: { n: 0, ms: 0, max: 0 }, major: { n: 0, ms: 0, max: 0 } };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR ? 'minor' : 'major';
    const g = gcPauses[kind];
    g.n++;
    g.ms += e.duration;
    g.max = Math.max(g.max, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
let wallMark = performance.now();
const gc = (globalThis as { gc?: () => void }).gc;
const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * BENCH_PROFILE_DIR set (npm run profile): the CPU profile covers the measured run only, from
 * /bench/stats?reset=1 to the next /bench/stats, not start-up and set-up; written there on stop.
 */
const profiler = (() => {
  const dir = process.env.BENCH_PROFILE_DIR;
  const heap = process.env.BENCH_HEAP_PROFILE === '1';
  let session: Session | null = null;
  return {
    async toggle(start: boolean) {
      if (!dir) return;
      if (session) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(join(dir, `server-${process.pid}-${Date.now()}.cpuprofile`), JSON.stringify(profile));
        if (heap) {
          const { profile: allocations } = await session.post('HeapProfiler.stopSampling');
          writeFileSync(join(dir, `server-${process.pid}-${Date.now()}.heapprofile`), JSON.stringify(allocations));
        }
        session.disconnect();
        session = null;
      }
      if (!start) return;
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 1000 });
      await session.post('Profiler.start');
      // BENCH_HEAP_PROFILE=1: also where the measured run allocates (sampled every 32 KiB; bench/heap-top.ts reads it).
      if (heap) await session.post('HeapProfiler.startSampling', { samplingInterval: 32_768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    },
  };
})();

// The bench's own routes are not the API: kept out of the OpenAPI document (and its every-route-
// declares-its-answers guard, adapters/http/openapi.ts).
const benchOnly = { schema: { hide: true } };

/** GET /bench/stats[?reset=1]: memory, CPU since the last reset, event-loop delay (1 ms resolution) since the last reset. */
function statsRoutes(app: FastifyInstance, extra: () => Promise<Record<string, unknown>> = async () => ({})) {
  app.get('/bench/stats', benchOnly, async (request) => {
    const cpu = process.cpuUsage(cpuMark);
    const wall = performance.now() - wallMark;
    const m = process.memoryUsage();
    const ms = (ns: number) => Math.round((ns / 1e6) * 100) / 100;
    const out = {
      rssMiB: mib(m.rss),
      heapUsedMiB: mib(m.heapUsed),
      externalMiB: mib(m.external + m.arrayBuffers),
      eldMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max), mean: ms(eld.mean) },
      gcMs: Object.fromEntries(Object.entries(gcPauses).map(([k, g]) => [k, { n: g.n, total: ms(g.ms * 1e6), max: ms(g.max * 1e6) }])),
      cpuPct: Math.round(((cpu.user + cpu.system) / 1000 / wall) * 1000) / 10,
      /** Process CPU time (user + system) since the last reset, µs. */
      cpuUs: cpu.user + cpu.system,
      ...(await extra()),
    };
    await profiler.toggle(!!(request.query as { reset?: string }).reset);
    if ((request.query as { reset?: string }).reset) {
      eld.reset();
      for (const g of Object.values(gcPauses)) Object.assign(g, { n: 0, ms: 0, max: 0 });
      cpuMark = process.cpuUsage();
      wallMark = performance.now();
    }
    return out;
  });
  app.post('/bench/gc', benchOnly, async () => {
    for (let i = 0; i < 3; i++) {
      gc?.();
      await sleep(20);
    }
    const m = process.memoryUsage();
    return { gc: !!gc, rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed) };
  });
}

function ready(url: string) {
  const port = Number(new URL(url).port);
  process.stdout.write(`${JSON.stringify({ ready: true, url, port, pid: process.pid })}\n`);
}

async function bare(withXadd: boolean) {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  const redis = withXadd ? new Redis(process.env.REDIS_URL!, { enableAutoPipelining: true }) : null;
  const key = `bench${process.pid}:{bare-locations}`;
  let appended = 0;
  const reply = { accepted: 1, rejected: 0, rejections: [] };
  app.post(
    '/v1/drivers/me/locations',
    { schema: { body: LocationsBody, response: { 202: LocationsReply } } },
    async (request, res) => {
      if (redis) {
        await redis.xadd(key, '*', 'type', 'LocationRecorded', 'data', JSON.stringify(request.body));
        appended++;
      }
      return res.status(202).send(reply);
    },
  );
  statsRoutes(app);
  app.get('/bench/count', benchOnly, async () => ({ events: redis ? await redis.xlen(key) : null, appended }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  process.on('SIGTERM', () => void app.close().then(() => redis?.disconnect()).finally(() => process.exit(0)));
  ready(url);
}

async function bareLive() {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  statsRoutes(app, await bareLiveRoutes(app));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  process.on('SIGTERM', () => void app.close().finally(() => process.exit(0)));
  ready(url);
}

type Trip = TripInfo;

const PASSED_THROUGH = [
  'LOCATION_RETENTION', 'LOCATION_SHARDS', 'REDIS_URL', 'KAFKA_BROKERS', 'MAX_CONNECTIONS', 'GPS_WORK', 'FLEET_FEED_MS',
  'SHARD_LEASE_MS', 'MATCHING', 'BATCH_WINDOW_MS', 'OFFER_FANOUT',
];

async function service() {
  const prefix = `bench${process.pid}:`;
  const quiet = { info() {}, warn() {}, error() {} };
  const env: Record<string, string> = {
    TRANSPORT: transport,
    JWT_SECRET: 'bench-secret-that-is-long-enough',
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_PASSWORD: ADMIN.password,
    DEMO: '0',
    RATE_LIMIT_PER_MINUTE: '1000000000',
    // The load generators send one driver's fixes as fast as the server takes them: no per-driver cap.
    LOCATION_POINTS_PER_SECOND: '1000000000',
    LOCATION_POINTS_BURST: '1000000000',
    STREAM_PREFIX: prefix,
    INSTANCE_ID: `bench-${process.pid}`,
    // The service's own settings a run may vary (e.g. GPS_WORK=broadcast npm run bench -- e2e); the
    // rest of the environment stays out, so a shell's settings do not leak into the figures.
    ...Object.fromEntries(PASSED_THROUGH.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : []))),
  };
  const config = loadConfig(env);
  let infra: Infrastructure = {};
  if (transport === 'redis') infra = await makeInfrastructure(config, quiet);
  if (transport === 'kafka') {
    // As test/support/transports.ts, with the settings test/support/kafka.ts says the librdkafka mock
    // needs: no idempotent producer, short session timeout (the mock holds re-joins for it).
    infra = {
      log: getKafkaEventLog({
        brokers: config.kafkaBrokers,
        topicPrefix: prefix.replace(/:$/, '.'),
        idempotent: false,
        consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000, maxWaitTimeMs: 250 },
        logger: quiet,
      }),
    };
  }

  // The routes are registered while the app is built; they reach the service once it exists.
  let svc: Awaited<ReturnType<typeof startService>> | undefined;
  const trips: Trip[] = [];
  const drive = { running: false, sent: 0, skipped: 0, accepted: 0, rejected: 0, errors: 0, lastError: '', windowFrom: 0, windowTo: 0, acceptedInWindow: 0 };
  const counter = transport === 'redis' ? new Redis(process.env.REDIS_URL!) : null;

  /**
   * Redis: every consumer group of `rides` and `drivers` has read and acknowledged everything (XINFO
   * GROUPS lag and pending 0). The trip set-up appends some 5 ride events and 3 driver events per
   * trip; the groups that react to them (reactions, matcher, geo) read them one by one, and a
   * measured run started before they finish measures their backlog beside the GPS path.
   */
  async function settled(): Promise<boolean> {
    if (transport !== 'redis') return true;
    for (const stream of ['rides', 'drivers']) {
      const groups = (await counter!.xinfo('GROUPS', `${prefix}{${stream}}`).catch(() => [])) as unknown[][];
      for (const g of groups) {
        const f: Record<string, unknown> = {};
        for (let i = 0; i + 1 < g.length; i += 2) f[String(g[i])] = g[i + 1];
        if (Number(f['pending'] ?? 0) > 0 || Number(f['lag'] ?? 0) > 0) return false;
      }
    }
    return true;
  }

  async function countLocations(): Promise<{ events: number; via: string }> {
    const log = svc!.ctx.log;
    if (transport === 'redis') {
      const lengths = await Promise.all(shardKeysOf(prefix, 'driver-locations', config.locationShards).map((k) => counter!.xlen(k.stream)));
      return { events: lengths.reduce((a, b) => a + b, 0), via: 'XLEN' };
    }
    if (transport === 'kafka') {
      const admin = new Kafka({ brokers: config.kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const offsets = await admin.fetchTopicOffsets(`${prefix.replace(/:$/, '.')}driver-locations`);
        return { events: offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0), via: 'topic offsets' };
      } finally {
        await admin.disconnect();
      }
    }
    let events = 0;
    let after: string | undefined;
    for (;;) {
      const page = await log.read('driver-locations', { after, limit: 100_000 });
      if (page.length === 0) return { events, via: 'log.read' };
      events += page.length;
      after = page.at(-1)!.metadata.position;
    }
  }

  const center = { lat: 52.52, lng: 13.405 };
  /** Trip i starts on a 200-wide grid (about 110 m × 100 m cells) around the centre. */
  const startOf = (i: number) => ({ lat: center.lat - 0.1 + Math.floor(i / 200) * 0.001, lng: center.lng - 0.15 + (i % 200) * 0.0015 });

  /**
   * An assigned, started trip per index, through the app services and the ride decider (the HTTP
   * flow would cost two scrypt logins per user): request (rider) → offer (as the matcher appends it)
   * → accept (driver) → assign (drivers stream) → start. Tokens are signed as /v1/auth/login signs them.
   */
  async function setupTrip(i: number): Promise<Trip> {
    const { ridecast, ctx, app } = svc!;
    const driverId = `d_bench${i}`;
    const riderId = `u_bench${i}`;
    const rider: Actor = { userId: riderId, role: 'rider' };
    const driver: Actor = { userId: driverId, role: 'driver' };
    const pickup = startOf(i);
    const view = await ridecast.rides.request(rider, { pickup, dropoff: { lat: pickup.lat + 0.03, lng: pickup.lng + 0.03 } });
    const rideId = view.rideId;
    const at = Date.now();
    await handle(ctx.log, 'rides', rideId, rideDecider, {
      type: 'OfferRide',
      data: { rideId, driverId, expiresAt: at + 6 * 3600_000, distanceMeters: 0, etaSeconds: 0, at },
    });
    // Real (if password-less) accounts: a token is only honoured for an account that exists.
    for (const a of [rider, driver]) await ctx.users.create({ userId: a.userId, username: a.userId, role: a.role, passwordHash: 'none' }).catch(() => undefined);
    await ridecast.drivers.setAvailability(driver, true);
    await ridecast.rides.accept(driver, rideId);
    await ridecast.drivers.command(driverId, { type: 'AssignRide', data: { driverId, rideId, at: Date.now() } });
    await ridecast.rides.start(driver, rideId);
    return {
      index: i, rideId, driverId, riderId,
      driverToken: app.jwt.sign({ sub: driverId, role: 'driver' }),
      riderToken: app.jwt.sign({ sub: riderId, role: 'rider' }),
      ...pickup,
    };
  }

  async function runDrive(from: number, count: number, durationMs: number) {
    const { ridecast } = svc!;
    const slots = 100; // every 10 ms one slot of drivers sends: each driver once a second, spread evenly
    const group = trips.slice(from, from + count);
    const state = group.map((t) => ({ actor: { userId: t.driverId, role: 'driver' } as Actor, lat: t.lat, lng: t.lng, at: 0 }));
    const dLng = 10 / (111_195 * Math.cos((center.lat * Math.PI) / 180)); // 10 m/s east
    const start = performance.now();
    let fired = 0;
    drive.running = true;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const elapsed = performance.now() - start;
        const due = Math.floor(elapsed / (1000 / slots));
        // At most 50 ms of points per turn of the loop: a server that fell behind skips the rest (counted)
        // rather than run one ever larger catch-up burst, which would block its event loop for seconds.
        const maxBehind = 5;
        for (; due - fired > maxBehind; fired++) drive.skipped += Math.ceil((state.length - (fired % slots)) / slots);
        for (; fired < due; fired++) {
          const slot = fired % slots;
          for (let k = slot; k < state.length; k += slots) {
            const s = state[k]!;
            s.lng += dLng;
            s.at = Math.max(Date.now(), s.at + 1);
            const inWindow = s.at >= drive.windowFrom && s.at < drive.windowTo;
            drive.sent++;
            ridecast.locations
              .ingest(s.actor, [{ lat: s.lat, lng: s.lng, recordedAt: s.at, heading: 90, speed: 10, accuracy: 5 }])
              .then((r) => {
                drive.accepted += r.accepted;
                if (inWindow) drive.acceptedInWindow += r.accepted;
                drive.rejected += r.rejected;
              })
              .catch((err: Error) => {
                drive.errors++;
                drive.lastError = err.message;
              });
          }
        }
        if (elapsed >= durationMs) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
    });
    drive.running = false;
  }

  async function sockets(): Promise<number> {
    const m = await svc!.ctx.metrics.sockets.get();
    return m.values[0]?.value ?? 0;
  }

  async function benchPlugin(app: FastifyInstance) {
    statsRoutes(app, async () => ({
      sockets: await sockets(),
      handlerFailures: (await svc!.ctx.metrics.handlerFailures.get()).values.reduce((n, v) => n + v.value, 0),
      locationsSeen: svc!.ridecast.tracker.locationsSeen(),
      locationsAccepted: (await svc!.ctx.metrics.locationsAccepted.get()).values[0]?.value ?? 0,
    }));
    app.get('/bench/count', benchOnly, async () => countLocations());
    app.post<{ Body: { from: number; count: number } }>('/bench/trips', benchOnly, async (request) => {
      const { from, count } = request.body;
      const made: Trip[] = new Array(count);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(64, count) }, async () => {
          while (next < count) {
            const k = next++;
            made[k] = await setupTrip(from + k);
          }
        }),
      );
      // The consumers (fleet, tracker) must have seen the assignment before points carry the ride.
      const deadline = Date.now() + 120_000;
      const seen = (t: Trip) =>
        svc!.ctx.fleet.get(t.driverId)?.rideId === t.rideId && svc!.ridecast.tracker.activeRides().get(t.rideId)?.status === 'in_progress';
      while (!made.every(seen)) {
        if (Date.now() > deadline) throw new Error('consumers did not apply the trip set-up within 120 s');
        await sleep(20);
      }
      while (!(await settled())) {
        if (Date.now() > deadline) throw new Error('the consumer groups did not work off the trip set-up within 120 s');
        await sleep(100);
      }
      for (const t of made) trips[t.index] = t;
      return { trips: made };
    });
    app.post<{ Body: { from: number; count: number; durationMs: number; windowFrom?: number; windowTo?: number } }>('/bench/drive', benchOnly, async (request) => {
      if (drive.running) throw new Error('a drive is already running');
      const { from, count, durationMs, windowFrom = 0, windowTo = 0 } = request.body;
      Object.assign(drive, { sent: 0, skipped: 0, accepted: 0, rejected: 0, errors: 0, lastError: '', windowFrom, windowTo, acceptedInWindow: 0 });
      void runDrive(from, count, durationMs);
      return { started: true };
    });
    app.get('/bench/drive', benchOnly, async () => drive);
  }

  // Fixes 1 ms apart in device time (ingest.ts): a load generator, not a car, so one-fix-per-500-ms is off.
  svc = await startService(infra, { plugins: [benchPlugin], trackingRules: { minIntervalMs: 0 } }, env);
  const url = await svc.app.listen({ port: 0, host: '127.0.0.1' });
  process.on('SIGTERM', () => {
    const timer = setTimeout(() => process.exit(1), 10_000);
    void svc!
      .close()
      .then(() => counter?.disconnect())
      .finally(() => {
        clearTimeout(timer);
        process.exit(0);
      });
  });
  ready(url);
}

if (mode === 'bare' || mode === 'bare-xadd') await bare(mode === 'bare-xadd');
else if (mode === 'bare-live') await bareLive();
else await service();
