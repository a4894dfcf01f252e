// replay: rebuild the rides read model (projector + memory read model) and the fleet index from a
// Redis log of ~1,000,000 events (mostly LocationRecorded, plus whole ride lifecycles), reading with
// the Redis adapter's `read` in pages (projections/rebuild.ts replayMerged). Baselines in the same
// run: raw pipelined XADD (writing the log), raw XRANGE and XREADGROUP paging, adapter reads alone.
import { Redis } from 'ioredis';
import { getInMemoryReadModel } from '../adapters/memory/read-model.ts';
import { getRedisEventLog } from '../adapters/redis/event-log.ts';
import { EVENT_FIELD, entryValue, keysOf } from '../adapters/redis/scripts.ts';
import type { DriverEvent } from '../domain/driver/index.ts';
import { STREAMS, type Recorded, type StreamName } from '../domain/ports/event-log.ts';
import type { RideEvent } from '../domain/ride/index.ts';
import type { LocationRecorded } from '../domain/tracking/events.ts';
import { makeFleet } from '../projections/fleet/index.ts';
import { replayMerged, replayMergedBatches, runsOf } from '../projections/rebuild.ts';
import { makeRideProjector } from '../projections/rides/projector.ts';
import { createRandom } from '../src/simulator/random.ts';
import { startCpuProfile } from './lib/cpu-profile.ts';
import { startRedis } from './lib/infra.ts';
import { fmt, scenario, sleep, type Row } from './lib/report.ts';

const TARGET = Number(process.env.BENCH_REPLAY_EVENTS ?? 1_000_000);
const DRIVERS = 4_000;
const PAGE = 1_000;
const PREFIX = 'bench:';
/** BENCH_REPLAY_LAYOUT=legacy: the log in the five-field entry layout written before the `event` field (still read). */
const LEGACY = process.env.BENCH_REPLAY_LAYOUT === 'legacy';

const s = scenario('replay');
const gc = (globalThis as { gc?: () => void }).gc;
const mib = (b: number) => fmt(b / 2 ** 20);
/** Full GCs (bench runs with --expose-gc), so a step starts, and retained memory is read, without garbage. */
const collect = async () => {
  for (let i = 0; i < 3; i++) (gc?.(), await sleep(10));
};

/** Runs fn, sampling this process's RSS every 25 ms: [result, ms, peak RSS MiB, RSS at start MiB]. */
async function measured<T>(fn: () => Promise<T>): Promise<{ out: T; ms: number; cpuMs: number; peakMiB: number; startMiB: number }> {
  await collect();
  // memoryUsage.rss(), not memoryUsage(): the latter walks the heap's spaces (1.6% of a rebuild's profile).
  const startRss = process.memoryUsage.rss();
  let peak = startRss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 25);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage.rss());
  return { out, ms, cpuMs: (cpu.user + cpu.system) / 1000, peakMiB: mib(peak), startMiB: mib(startRss) };
}

/** The simulator's seeded generator (mulberry32): the same history every run. */
const rand = createRandom(42).next;

interface SimDriver {
  id: string;
  lat: number;
  lng: number;
  version: number;
  state: 'idle' | 'pickup' | 'trip';
  rideId: string | null;
  rideVersion: number;
  until: number;
  startedAt: number;
}

/**
 * A simulated city at 1 Hz: every online driver sends a point each second (with the ride it is on),
 * rides go requested → offered → accepted → started → completed → fare → paid, and the driver stream
 * records availability, offer holds, assignment and release. Written in time order with pipelined
 * XADD (the adapter's entry layout, or the earlier one with BENCH_REPLAY_LAYOUT=legacy); entity histories (readKey lists) are not written, as the
 * rebuild never reads them.
 */
async function generate(url: string) {
  const w = new Redis(url);
  const counts: Record<StreamName, number> = { rides: 0, drivers: 0, 'driver-locations': 0 };
  const keys = Object.fromEntries(STREAMS.map((st) => [st, keysOf(PREFIX, st).stream])) as Record<StreamName, string>;
  let pipe = w.pipeline();
  let queued = 0;
  let total = 0;
  const inFlight: Promise<unknown>[] = [];
  const add = (stream: StreamName, type: string, key: string, version: number, data: unknown, at: number) => {
    if (LEGACY) pipe.xadd(keys[stream], '*', 'type', type, 'key', key, 'version', String(version), 'data', JSON.stringify(data), 'recordedAtMs', String(at));
    else pipe.xadd(keys[stream], '*', EVENT_FIELD, entryValue(type, key, version, at, JSON.stringify(data)));
    counts[stream]++;
    total++;
    queued++;
  };
  const flush = async () => {
    inFlight.push(pipe.exec());
    pipe = w.pipeline();
    queued = 0;
    if (inFlight.length >= 4) await inFlight.shift();
  };
  const seconds = Math.ceil(TARGET / (DRIVERS * 1.04));
  const t0 = Date.now() - seconds * 1000 - 60_000;
  const drivers: SimDriver[] = Array.from({ length: DRIVERS }, (_, i) => ({
    id: `d_sim${i}`, lat: 52.52 + (rand() * 2 - 1) * 0.12, lng: 13.405 + (rand() * 2 - 1) * 0.2,
    version: 0, state: 'idle', rideId: null, rideVersion: 0, until: Math.floor(rand() * 30), startedAt: 0,
  }));
  let rides = 0;
  for (const d of drivers) add('drivers', 'DriverAvailabilityChanged', d.id, ++d.version, { driverId: d.id, available: true, at: t0 }, t0);
  for (let sec = 0; total < TARGET; sec++) {
    for (let i = 0; i < DRIVERS && total < TARGET; i++) {
      const d = drivers[i]!;
      const at = t0 + sec * 1000 + Math.floor((i * 1000) / DRIVERS);
      const ride = (type: string, data: Record<string, unknown>) => add('rides', type, d.rideId!, ++d.rideVersion, { rideId: d.rideId, ...data, at }, at);
      if (sec >= d.until) {
        if (d.state === 'idle') {
          d.rideId = `r_sim${rides++}`;
          d.rideVersion = 0;
          const pickup = { lat: d.lat + (rand() - 0.5) * 0.01, lng: d.lng + (rand() - 0.5) * 0.01 };
          ride('RideRequested', { riderId: `u_sim${rides}`, pickup, dropoff: { lat: pickup.lat + 0.03, lng: pickup.lng + 0.02 } });
          add('drivers', 'DriverOfferHeld', d.id, ++d.version, { driverId: d.id, rideId: d.rideId, expiresAt: at + 15_000, at }, at);
          ride('RideOffered', { driverId: d.id, expiresAt: at + 15_000, distanceMeters: 600, etaSeconds: 90, round: 1 });
          ride('RideAccepted', { driverId: d.id });
          add('drivers', 'DriverAssigned', d.id, ++d.version, { driverId: d.id, rideId: d.rideId, at }, at);
          d.state = 'pickup';
          d.until = sec + 20 + Math.floor(rand() * 40);
        } else if (d.state === 'pickup') {
          ride('TripStarted', { driverId: d.id });
          d.state = 'trip';
          d.startedAt = at;
          d.until = sec + 60 + Math.floor(rand() * 240);
        } else {
          const durationSeconds = Math.round((at - d.startedAt) / 1000);
          const distanceMeters = durationSeconds * 9;
          const amount = Math.round((2.5 + distanceMeters * 0.0012 + durationSeconds * 0.005) * 100) / 100;
          ride('TripCompleted', { driverId: d.id, distanceMeters, durationSeconds });
          ride('FareCalculated', { amount, currency: 'EUR', distanceMeters, durationSeconds });
          ride('PaymentCaptured', { paymentId: `p_${d.rideId}`, amount, currency: 'EUR' });
          add('drivers', 'DriverFreed', d.id, ++d.version, { driverId: d.id, rideId: d.rideId, at }, at);
          d.state = 'idle';
          d.rideId = null;
          d.until = sec + 5 + Math.floor(rand() * 35);
        }
      }
      const heading = rand() * 360;
      d.lat += Math.cos((heading * Math.PI) / 180) * 0.00008;
      d.lng += Math.sin((heading * Math.PI) / 180) * 0.00012;
      add('driver-locations', 'LocationRecorded', d.id, 0, {
        driverId: d.id, lat: d.lat, lng: d.lng, recordedAt: at - 300, heading: Math.round(heading), speed: 9, accuracy: 5,
        rideId: d.state === 'idle' ? null : d.rideId, late: false,
      }, at);
      if (queued >= 2_000) await flush();
    }
  }
  await flush();
  await Promise.all(inFlight);
  w.disconnect();
  return { counts, total, rides, simulatedSeconds: seconds };
}

const redisServer = await startRedis();
const rows: Row[] = [];
/** CPU µs per event of the raw XRANGE step: the floor every later step's CPU is compared with. */
let floorCpuUs = NaN;
const row = (step: string, n: number, m: { ms: number; cpuMs: number; peakMiB: number }, extra: Row = {}): Row => {
  const cpuUs = (m.cpuMs * 1000) / Math.max(1, n);
  return { step, events: n, seconds: fmt(m.ms / 1000, 2), 'events/s': Math.round(n / (m.ms / 1000)), 'CPU µs/event': fmt(cpuUs, 2), 'CPU ÷ XRANGE': Number.isNaN(floorCpuUs) ? '' : fmt(cpuUs / floorCpuUs, 2), 'peak RSS MiB': m.peakMiB, ...extra };
};
let results: Row[] = [];
try {
  s.log(`writing ${TARGET.toLocaleString('en')} events`);
  const written = await measured(() => generate(redisServer.url));
  const { counts, total, rides } = written.out;
  rows.push(row('write: raw pipelined XADD (2000/pipeline, 4 in flight)', total, written));
  s.log(`wrote ${total} events (${JSON.stringify(counts)}, ${rides} rides) in ${(written.ms / 1000).toFixed(1)} s`);

  const raw = new Redis(redisServer.url);
  const info = await raw.info('memory');
  const redisMiB = fmt(Number(/used_memory:(\d+)/.exec(info)?.[1]) / 2 ** 20);

  // Raw XRANGE paging, no decoding beyond RESP.
  const xr = await measured(async () => {
    let n = 0;
    for (const st of STREAMS) {
      let after = '-';
      for (;;) {
        const page = (await raw.xrange(keysOf(PREFIX, st).stream, after, '+', 'COUNT', PAGE)) as [string, string[]][];
        if (page.length === 0) break;
        n += page.length;
        after = `(${page.at(-1)![0]}`;
      }
    }
    return n;
  });
  floorCpuUs = (xr.cpuMs * 1000) / Math.max(1, xr.out);
  rows.push(row(`baseline: raw XRANGE pages of ${PAGE}, 3 streams`, xr.out, xr));

  // Raw XREADGROUP (NOACK) from 0 over the GPS stream, as a consumer group catching up reads.
  const xg = await measured(async () => {
    const key = keysOf(PREFIX, 'driver-locations').stream;
    await raw.xgroup('CREATE', key, 'bench-replay', '0');
    let n = 0;
    for (;;) {
      const reply = (await raw.xreadgroup('GROUP', 'bench-replay', 'c', 'COUNT', PAGE, 'NOACK', 'STREAMS', key, '>')) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) break;
      n += entries.length;
    }
    return n;
  });
  rows.push(row(`baseline: raw XREADGROUP NOACK, COUNT ${PAGE}, driver-locations`, xg.out, xg));
  raw.disconnect();

  const log = getRedisEventLog({ url: redisServer.url, prefix: PREFIX });
  // The adapter's read alone: entries decoded into Recorded events (JSON.parse of data), nothing kept.
  const ar = await measured(async () => {
    let n = 0;
    for (const st of STREAMS) {
      let after: string | undefined;
      for (;;) {
        const page = await log.read(st, { after, limit: PAGE });
        if (page.length === 0) break;
        n += page.length;
        after = page.at(-1)!.metadata.position;
      }
    }
    return n;
  });
  rows.push(row(`adapter log.read pages of ${PAGE}, decode only`, ar.out, ar));

  // The rebuild: the three streams merged by recorded time (replayMerged), into the ride projector
  // (memory read model: documents + trip tracks) and the fleet index (rbush).
  const readModel = getInMemoryReadModel();
  const fleet = makeFleet();
  let stale = 0;
  const projector = makeRideProjector(readModel, () => void stale++);
  // Before issue 15's batch work: per event, the projector awaited (same code path as the per-event handler).
  const perEvent = process.env.BENCH_REPLAY_PER_EVENT === '1';
  // BENCH_REPLAY_PROFILE=<file.cpuprofile>: the rebuild step alone under the CPU profiler
  // (read it with `npm run profile -- --read <file>`).
  const stopProfile = await startCpuProfile(process.env.BENCH_REPLAY_PROFILE);
  const rb = await measured(() =>
    perEvent
      ? replayMerged(log, ['rides', 'drivers', 'driver-locations'], async (e) => {
          if (e.metadata.stream === 'rides') await projector.onRideEvent(e as Recorded<RideEvent>);
          else if (e.metadata.stream === 'drivers') fleet.applyDriverEvent(e as Recorded<DriverEvent>);
          else if (e.type === 'LocationRecorded') {
            const p = e as Recorded<LocationRecorded>;
            await projector.onLocation(p);
            fleet.moveDriver(p, p.data);
          }
        }, { pageSize: PAGE })
      : // Per page: the merged page split into runs of one stream, each folded with one await.
        replayMergedBatches(log, ['rides', 'drivers', 'driver-locations'], async (page) => {
          for (const run of runsOf(page)) {
            const stream = run[0]!.metadata.stream;
            if (stream === 'rides') await projector.onRideEvents(run as Recorded<RideEvent>[]);
            else if (stream === 'drivers') for (const e of run) fleet.applyDriverEvent(e as Recorded<DriverEvent>);
            else {
              const points = (run as Recorded<LocationRecorded>[]).filter((e) => e.type === 'LocationRecorded');
              await projector.onLocations(points);
              // The point's data is what is shown (moveDriver copies the fields): no object per point.
              for (const p of points) fleet.moveDriver(p, p.data);
            }
          }
        }, { pageSize: PAGE }),
  );
  rows.push(row(`rebuild: ${perEvent ? 'replayMerged per event (before)' : 'replayMergedBatches per page'} → ride projector + fleet, pages of ${PAGE}`, rb.out.events, rb, { 'RSS before MiB': rb.startMiB }));
  await stopProfile();
  await log.close();
  await collect();
  const retainedMiB = mib(process.memoryUsage().heapUsed);

  const docs = await readModel.active();
  let trackPoints = 0;
  let completed = 0;
  let sampleTracks = 0;
  // Every ride was projected: count documents by status through `get`, tracks through `track`.
  for (let i = 0; i < rides; i++) {
    const doc = await readModel.get(`r_sim${i}`);
    if (doc?.status === 'completed') completed++;
    if (i % 10 === 0) {
      trackPoints += (await readModel.track(`r_sim${i}`)).length;
      sampleTracks++;
    }
  }
  results = [{
    'events replayed': rb.out.events,
    rides: rides,
    'completed docs': completed,
    'active docs': docs.length,
    'avg track points/ride (every 10th ride)': fmt(trackPoints / Math.max(1, sampleTracks), 1),
    'fleet drivers': [...fleet.all()].length,
    'rbush indexed': fleet.indexedCount(),
    'stale ride events': stale,
    'heap retained after rebuild MiB (GC run)': retainedMiB,
    'redis used_memory MiB': redisMiB,
  }];
} finally {
  await redisServer.stop();
}

s.table({ title: `replay: ${TARGET.toLocaleString('en')} events on Redis, ${LEGACY ? 'legacy five-field' : 'event-field'} entries (${DRIVERS} simulated drivers at 1 Hz + ride lifecycles)`, rows });
s.table({ title: 'replay: what the rebuild produced', rows: results });
s.note('RSS is this process\'s (GC run before each step, sampled every 25 ms). redis-server runs without AOF for this scenario: the rebuild only reads.');
s.note(`The log is written with raw pipelined XADD in ${LEGACY ? 'the earlier five-field entry layout (type, key, version, data, recordedAtMs; BENCH_REPLAY_LAYOUT=legacy)' : "the adapter's entry layout (one field, event = [type, key, version, recordedAtMs, data])"}; the per-entity history lists used by readKey are not written (the rebuild does not read them).`);
const r = rows.find((x) => String(x.step).startsWith('rebuild'));
s.write(r ? `${r.events} events rebuilt at ${r['events/s']} events/s, peak RSS ${r['peak RSS MiB']} MiB` : 'failed');
process.exit(0);
