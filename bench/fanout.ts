// fanout: 1k / 5k / 10k / ~20k concurrent rider sockets, each subscribed to its own ride, each ride
// updated once a second. Server in its own process (memory transport): RSS per connection,
// delivery latency, event-loop delay. Client sockets come from several 127.0.0.x source addresses.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startServerChild, type ServerChild } from './lib/child.ts';
import { connectRiders, Receiver, SOURCES, type RiderSocket, type TripInfo } from './lib/live.ts';
import { fmt, openFileLimit, scenario, sleep, stats, waitUntil, type Row } from './lib/report.ts';

const WARMUP_MS = 2_000;
const MEASURE_MS = Number(process.env.BENCH_FANOUT_SECONDS ?? 12) * 1000;
const DRAIN_MAX_MS = 10_000;
const files = openFileLimit();
// One fd per socket in this process and in the server (same limit): keep a margin for everything else.
const TOP = Math.min(20_000, files.soft - 500);
// A step above what the open-file limit allows runs at the top.
const STEPS = [...new Set((process.env.BENCH_FANOUT_STEPS ?? `1000,5000,10000,${TOP}`).split(',').map((n) => Math.min(Number(n), TOP)))]
  .sort((a, b) => a - b);

const s = scenario('fanout');
const rows: Row[] = [];
const clientEld = monitorEventLoopDelay({ resolution: 1 });
clientEld.enable();
if (TOP < 20_000) s.note(`top step is ${TOP}, not 20,000: RLIMIT_NOFILE is ${files.soft} (hard ${files.hard}) per process here and cannot be raised, and each socket takes one descriptor on both ends.`);

// MAX_CONNECTIONS (default 10,000, refused at accept past it) raised above the top step: this bench
// measures what the sockets cost, not the guard.
const server = await startServerChild({ BENCH_MODE: 'service', TRANSPORT: 'memory', MAX_CONNECTIONS: String(TOP + 1_000) }, { label: 'server/memory' });
const receiver = new Receiver();
let sockets: RiderSocket[] = [];
const memRows: Row[] = [];
try {
  s.log(`client sources ${SOURCES[0]}..${SOURCES.at(-1)} → server ${server.url}`);
  const total = STEPS.at(-1)!;
  let t0 = Date.now();
  const trips: TripInfo[] = [];
  for (let from = 0; from < total; from += 1000) {
    const { trips: made } = await server.post<{ trips: TripInfo[] }>('/bench/trips', { from, count: Math.min(1000, total - from) });
    trips.push(...made);
  }
  s.log(`${trips.length} trips set up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // 1. Memory: ramp up with no traffic, GC before each reading, against the server with no sockets.
  type Mem = { rssMiB: number; heapUsedMiB: number };
  const base = await server.post<Mem>('/bench/gc');
  memRows.push({ sockets: 0, 'connect s': '', 'new sockets/s': '', 'RSS MiB': base.rssMiB, 'heap MiB': base.heapUsedMiB, 'RSS KiB/conn': '', 'heap KiB/conn': '', failed: 0 });
  for (const n of STEPS) {
    t0 = Date.now();
    const added = await connectRiders(server.url.replace('http', 'ws'), trips.slice(sockets.length, n), receiver, { concurrency: 200, offset: sockets.length });
    sockets.push(...added.sockets);
    const connectS = (Date.now() - t0) / 1000;
    const m = await server.post<Mem>('/bench/gc');
    const k = sockets.length;
    memRows.push({
      sockets: k,
      'connect s': fmt(connectS),
      'new sockets/s': Math.round(added.sockets.length / connectS),
      'RSS MiB': m.rssMiB,
      'heap MiB': m.heapUsedMiB,
      'RSS KiB/conn': fmt(((m.rssMiB - base.rssMiB) * 1024) / k),
      'heap KiB/conn': fmt(((m.heapUsedMiB - base.heapUsedMiB) * 1024) / k),
      failed: added.failed,
    });
    s.log(`${k} sockets (${added.sockets.length} new in ${connectS.toFixed(1)} s, ${added.failed} failed ${added.firstError}); RSS ${m.rssMiB} MiB`);
  }

  // 2. Delivery, smallest step first (a saturated step leaves a backlog behind): close down to the
  // first step, then open sockets up to each step, so each step has exactly its number open.
  for (const x of sockets.slice(STEPS[0])) x.ws.close();
  sockets = sockets.slice(0, STEPS[0]);
  await waitUntil(async () => (await server.get<{ sockets: number }>('/bench/stats')).sockets <= STEPS[0]!, 10_000);
  for (const n of STEPS) {
    if (sockets.length < n) {
      const added = await connectRiders(server.url.replace('http', 'ws'), trips.slice(sockets.length, n), receiver, { concurrency: 200, offset: sockets.length });
      sockets.push(...added.sockets);
    }
    await deliveryStep(server, n, sockets.length, 'service');
  }
} catch (err) {
  s.log(`FAILED ${(err as Error).stack}`);
  rows.push({ server: 'service', sockets: sockets.length, held: `failed: ${(err as Error).message.split('\n')[0]!.slice(0, 160)}` });
} finally {
  for (const x of sockets) x.ws.terminate();
  await server.stop().catch(() => undefined);
}


// The floor: the same generator and the same number of sockets against bare-live (bench/lib/bare-live.ts:
// each message made and written straight to its socket, no ingestion, no log), top step only.
if (process.env.BENCH_FANOUT_FLOOR !== '0') {
  const n = STEPS.at(-1)!;
  const floor = await startServerChild({ BENCH_MODE: 'bare-live' }, { label: 'server/bare-live' });
  let open: RiderSocket[] = [];
  try {
    const { trips } = await floor.post<{ trips: TripInfo[] }>('/bench/trips', { from: 0, count: n });
    open = (await connectRiders(floor.url.replace('http', 'ws'), trips, receiver, { concurrency: 200 })).sockets;
    await deliveryStep(floor, n, open.length, 'bare floor');
  } catch (err) {
    s.log(`floor FAILED ${(err as Error).stack}`);
    rows.push({ server: 'bare floor', sockets: open.length, held: `failed: ${(err as Error).message.split('\n')[0]!.slice(0, 160)}` });
  } finally {
    for (const x of open) x.ws.terminate();
    await floor.stop().catch(() => undefined);
  }
}

/** One delivery step: `n` rides driven for warm-up + measure on `server`, one row (`server` names it). */
async function deliveryStep(server: ServerChild, n: number, openSockets: number, label: string) {
  const start = Date.now();
  const windowFrom = start + WARMUP_MS;
  const windowTo = windowFrom + MEASURE_MS;
  receiver.window(windowFrom, windowTo);
  await server.post('/bench/drive', { from: 0, count: n, durationMs: WARMUP_MS + MEASURE_MS, windowFrom, windowTo });
  await sleep(WARMUP_MS);
  await server.get('/bench/stats?reset=1');
  clientEld.reset();
  await sleep(MEASURE_MS);
  type Srv = { cpuPct: number; eldMs: { p50: number; p99: number; max: number }; rssMiB: number; sockets: number; locationsSeen: number; locationsAccepted: number };
  const srv = await server.get<Srv>('/bench/stats');
  const cli = clientEld.percentile(99) / 1e6;
  await waitUntil(async () => !(await server.get<{ running: boolean }>('/bench/drive')).running, 5_000);
  const lag = await server.get<Srv>('/bench/stats');
  const lagAtEnd = lag.locationsAccepted - lag.locationsSeen;
  let drive = await server.get<{ sent: number; skipped: number; accepted: number; acceptedInWindow: number; errors: number; lastError: string }>('/bench/drive');
  const drainMs = await waitUntil(() => receiver.received >= drive.acceptedInWindow, DRAIN_MAX_MS);
  drive = await server.get('/bench/drive');
  const st = stats(receiver.latencies.view());
  const expected = drive.acceptedInWindow;
  const delivered = expected ? receiver.received / expected : 0;
  rows.push({
    server: label,
    sockets: openSockets,
    'target/s': n,
    'generated/s': Math.round(expected / (MEASURE_MS / 1000)),
    'skipped (server behind)': drive.skipped,
    'received/s': Math.round(receiver.received / (MEASURE_MS / 1000)),
    delivered: `${fmt(delivered * 100, 1)}%`,
    'p50 ms': st.p50,
    'p99 ms': st.p99,
    'max ms': st.max,
    'consumer lag at end': lagAtEnd,
    'drain s': fmt(drainMs / 1000),
    'srv ELD p50 ms': srv.eldMs.p50,
    'srv ELD p99 ms': srv.eldMs.p99,
    'srv ELD max ms': srv.eldMs.max,
    'srv cpu %': srv.cpuPct,
    'srv RSS MiB': srv.rssMiB,
    'client ELD p99 ms': fmt(cli, 1),
    'ingest errors': drive.errors,
    held: delivered >= 0.99 && st.p99 < 1000 && expected >= 0.95 * n * (MEASURE_MS / 1000) ? 'yes' : 'NO (saturated)',
  });
  s.log(`${n}: p50 ${st.p50} p99 ${st.p99} ms, server ELD p99 ${srv.eldMs.p99} ms, cpu ${srv.cpuPct}%, received ${receiver.received}/${expected}`);
  // Let the server finish what is queued before the next (smaller) step.
  await waitUntil(async () => {
    const x = await server.get<Srv>('/bench/stats');
    return x.locationsSeen >= x.locationsAccepted;
  }, 10_000);
}

s.table({ title: 'fanout: server memory with N rider sockets open and subscribed (no traffic, after GC)', rows: memRows });
s.table({ title: `fanout: rider sockets each watching its own ride, 1 update/s per ride, ${WARMUP_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s measured per step`, rows });
s.note('bare floor = the same generator, sockets and rate against BENCH_MODE=bare-live (bench/lib/bare-live.ts): each message made and written straight to its socket, no ingestion, no log, no tracker (BENCH_FANOUT_FLOOR=0 leaves it out). What the service needs beyond it is its own.');
s.note('Updates are generated inside the server process at 1/s per ride through the real ingestion service (locations.ingest → log → consumer → tracker → hub → socket); HTTP ingest is measured by `ingest` and `e2e`. Latency = socket receive time − recordedAt (generation time).');
s.note('Memory: sockets opened in steps with no traffic; RSS and heap read after a forced GC; KiB/conn = growth over the server with no sockets (trips already set up), divided by the sockets open. The server is its own process; the sockets are opened by this one.');
s.note('Delivery steps run after the memory ramp: sockets closed down to the first step, then opened again up to each step, so each step has exactly its number of sockets open. consumer lag at end = points appended but not yet through the tracker when generation stopped; drain s = time for the rest to arrive (capped at 10 s; later ones count as not delivered). held = generated ≥ 95% of target, ≥ 99% delivered and p99 < 1 s. The generator runs on the server\'s event loop and sends at most 50 ms of overdue points per turn; a server further behind skips the rest (skipped), so a saturated server generates less.');
s.note('srv ELD = the server\'s event-loop delay (perf_hooks monitorEventLoopDelay, 1 ms resolution) over the measured window. srv RSS under load also holds the in-memory log (LOCATION_RETENTION default 1,000,000 points) and the trips\' tracks, which grow step by step.');
const perConn = memRows.at(-1)?.['RSS KiB/conn'];
s.write(rows.length && rows[0]!['p99 ms'] !== undefined
  ? `${perConn} KiB RSS/conn at ${memRows.at(-1)?.sockets}; ` + rows.map((r) => `${r.server === 'bare floor' ? 'floor ' : ''}${r.sockets}: p99 ${r['p99 ms']} ms, ELD p99 ${r['srv ELD p99 ms']} ms${r.held === 'yes' ? '' : ' (saturated)'}`).join('; ')
  : 'failed');
process.exit(0);
