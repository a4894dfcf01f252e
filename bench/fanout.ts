// fanout: 1k / 5k / 10k / ~20k concurrent rider sockets, each subscribed to its own ride, each ride
// updated once a second. Server in its own process (memory transport): RSS per connection,
// delivery latency, event-loop delay. Client sockets come from several 127.0.0.x source addresses.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startServerChild } from './lib/child.ts';
import { connectRiders, Receiver, SOURCES, type RiderSocket, type TripInfo } from './lib/live.ts';
import { fmt, openFileLimit, scenario, sleep, stats, type Row } from './lib/report.ts';

const WARMUP_MS = 2_000;
const MEASURE_MS = Number(process.env.BENCH_FANOUT_SECONDS ?? 12) * 1000;
const files = openFileLimit();
// One fd per socket in this process and in the server (same limit): keep a margin for everything else.
const TOP = Math.min(20_000, files.soft - 500);
const STEPS = [...new Set((process.env.BENCH_FANOUT_STEPS ?? `1000,5000,10000,${TOP}`).split(',').map(Number))]
  .filter((n) => n <= TOP)
  .sort((a, b) => a - b);

const s = scenario('fanout');
const rows: Row[] = [];
const clientEld = monitorEventLoopDelay({ resolution: 1 });
clientEld.enable();
if (TOP < 20_000) s.note(`top step is ${TOP}, not 20,000: RLIMIT_NOFILE is ${files.soft} (hard ${files.hard}) per process here and cannot be raised, and each socket takes one descriptor on both ends.`);

const server = await startServerChild({ BENCH_MODE: 'service', TRANSPORT: 'memory', LOCATION_RETENTION: '1000' }, { label: 'server/memory' });
const receiver = new Receiver();
const sockets: RiderSocket[] = [];
try {
  // Sources other than 127.0.0.1 must work before we rely on them.
  s.log(`client sources ${SOURCES[0]}..${SOURCES.at(-1)} → server ${server.url}`);
  const total = STEPS.at(-1)!;
  let t0 = Date.now();
  const trips: TripInfo[] = [];
  for (let from = 0; from < total; from += 1000) {
    const { trips: made } = await server.post<{ trips: TripInfo[] }>('/bench/trips', { from, count: Math.min(1000, total - from) });
    trips.push(...made);
  }
  s.log(`${trips.length} trips set up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const base = await server.post<{ rssMiB: number; heapUsedMiB: number; gc: boolean }>('/bench/gc');
  s.log(`server after set-up and GC: RSS ${base.rssMiB} MiB, heap ${base.heapUsedMiB} MiB`);

  for (const n of STEPS) {
    const before = await server.post<{ rssMiB: number; heapUsedMiB: number }>('/bench/gc');
    t0 = Date.now();
    const added = await connectRiders(server.url.replace('http', 'ws'), trips.slice(sockets.length, n), receiver, { concurrency: 200, offset: sockets.length });
    sockets.push(...added.sockets);
    const connectS = (Date.now() - t0) / 1000;
    const after = await server.post<{ rssMiB: number; heapUsedMiB: number }>('/bench/gc');
    const addedCount = added.sockets.length;
    s.log(`${sockets.length} sockets (${addedCount} new in ${connectS.toFixed(1)} s, ${added.failed} failed ${added.firstError}); RSS ${before.rssMiB} → ${after.rssMiB} MiB`);

    const start = Date.now();
    receiver.window(start + WARMUP_MS, start + WARMUP_MS + MEASURE_MS);
    await server.post('/bench/drive', { from: 0, count: n, durationMs: WARMUP_MS + MEASURE_MS });
    await sleep(WARMUP_MS);
    await server.get('/bench/stats?reset=1');
    clientEld.reset();
    await sleep(MEASURE_MS);
    const srv = await server.get<{ cpuPct: number; eldMs: { p50: number; p99: number; max: number }; rssMiB: number; sockets: number }>('/bench/stats');
    const cli = clientEld.percentile(99) / 1e6;
    for (;;) {
      const d = await server.get<{ running: boolean }>('/bench/drive');
      if (!d.running) break;
      await sleep(100);
    }
    await sleep(2_000);
    const drive = await server.get<{ sent: number; accepted: number; errors: number; lastError: string }>('/bench/drive');
    const st = stats(receiver.latencies.view());
    const expected = sockets.length >= n ? n * (MEASURE_MS / 1000) : sockets.length * (MEASURE_MS / 1000);
    rows.push({
      sockets: sockets.length,
      'connect s': fmt(connectS),
      'new sockets/s': Math.round(addedCount / connectS),
      'RSS before MiB': before.rssMiB,
      'RSS after MiB': after.rssMiB,
      'RSS KiB/conn': addedCount ? fmt(((after.rssMiB - before.rssMiB) * 1024) / addedCount) : '',
      'heap KiB/conn': addedCount ? fmt(((after.heapUsedMiB - before.heapUsedMiB) * 1024) / addedCount) : '',
      'updates/s': n,
      'received/s': Math.round(receiver.received / (MEASURE_MS / 1000)),
      delivered: `${fmt((receiver.received / expected) * 100, 1)}%`,
      'p50 ms': st.p50,
      'p99 ms': st.p99,
      'max ms': st.max,
      'srv ELD p50 ms': srv.eldMs.p50,
      'srv ELD p99 ms': srv.eldMs.p99,
      'srv ELD max ms': srv.eldMs.max,
      'srv cpu %': srv.cpuPct,
      'srv RSS MiB (load)': srv.rssMiB,
      'client ELD p99 ms': fmt(cli, 1),
      'ingest errors': drive.errors,
      failed: added.failed,
    });
    s.log(`${n}: p50 ${st.p50} p99 ${st.p99} ms, server ELD p99 ${srv.eldMs.p99} ms, cpu ${srv.cpuPct}%, received ${receiver.received}/${expected}`);
  }
} catch (err) {
  s.log(`FAILED ${(err as Error).stack}`);
  rows.push({ sockets: sockets.length, failed: (err as Error).message.split('\n')[0]!.slice(0, 160) });
} finally {
  for (const x of sockets) x.ws.terminate();
  await server.stop().catch(() => undefined);
}

s.table({ title: `fanout: rider sockets each watching its own ride, 1 update/s per ride, ${WARMUP_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s measured per step`, rows });
s.note('Updates are generated inside the server process at 1/s per ride through the real ingestion service (locations.ingest → log → consumer → tracker → hub → socket); HTTP ingest is measured by `ingest` and `e2e`. Latency = socket receive time − recordedAt (generation time).');
s.note('RSS KiB/conn = server RSS growth (after GC) while that step\'s new sockets connected and subscribed, per new socket; heap KiB/conn likewise for the V8 heap. The server runs in its own process; the sockets are opened by this process.');
s.note('srv ELD = the server\'s event-loop delay (perf_hooks monitorEventLoopDelay, 1 ms resolution) over the measured window. LOCATION_RETENTION=1000 keeps the in-memory log from growing through the steps.');
const top = rows.at(-1);
s.write(top && top['p99 ms'] !== undefined ? rows.map((r) => `${r.sockets}: p99 ${r['p99 ms']} ms, ${r['RSS KiB/conn']} KiB/conn, ELD p99 ${r['srv ELD p99 ms']} ms`).join('; ') : 'failed');
process.exit(0);
