// e2e: N drivers on assigned trips POST one point a second each; each trip's rider watches it over a
// subscribed WebSocket. Latency = rider socket receives `driver.location` − the driver's send time
// (recordedAt). Timed path: HTTP POST → log → consumer (tracker) → hub → socket, on memory and Redis.
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { startServerChild, type ServerChild } from './lib/child.ts';
import { startBenchRedis, type RedisServer } from './lib/infra.ts';
import { connectRiders, driverSender, Receiver, type TripInfo } from './lib/live.ts';
import { fmt, Samples, scenario, sleep, stats, waitUntil, type Row } from './lib/report.ts';

const STEPS = (process.env.BENCH_E2E_STEPS ?? '2000,5000').split(',').map(Number);
// `bare`: the floor (bench/lib/bare-live.ts: bare Fastify + WebSocket, a POST pushed straight to its
// rider socket), run first and last so each service run has a floor measured around it.
type Kind = 'bare' | 'memory' | 'redis';
const TRANSPORTS = (process.env.BENCH_E2E_TRANSPORTS ?? 'bare,memory,redis,bare').split(',') as Kind[];
const WARMUP_MS = 3_000;
const MEASURE_MS = Number(process.env.BENCH_E2E_SECONDS ?? 12) * 1000;
/** After the last send: wait for the rest to arrive, at most this long (a backlog shows as latency or as undelivered). */
const DRAIN_MAX_MS = 10_000;

const s = scenario('e2e');
const rows: Row[] = [];
const setupRows: Row[] = [];
const clientEld = monitorEventLoopDelay({ resolution: 1 });
clientEld.enable();

/** Raw Redis floor: XADD (auto-pipelined) → XREADGROUP BLOCK (COUNT 100) + XACK, same rate, same Redis. */
async function rawRedisBaseline(url: string, rate: number, ms: number): Promise<Row> {
  const prod = new Redis(url, { enableAutoPipelining: true });
  const cons = new Redis(url);
  const key = 'bench:{raw-e2e}';
  await cons.xgroup('CREATE', key, 'g', '$', 'MKSTREAM');
  const lat = new Samples();
  let running = true;
  const payload = JSON.stringify({ driverId: 'd_x', lat: 52.5, lng: 13.4, recordedAt: Date.now(), heading: 90, speed: 10, accuracy: 5, rideId: 'r_x', late: false });
  const reader = (async () => {
    while (running) {
      const reply = (await cons.xreadgroup('GROUP', 'g', 'c', 'COUNT', 100, 'BLOCK', 200, 'STREAMS', key, '>')) as [string, [string, string[]][]][] | null;
      const now = performance.now();
      const entries = reply?.[0]?.[1] ?? [];
      for (const [, fields] of entries) lat.push(now - Number(fields[1]));
      if (entries.length) await cons.xack(key, 'g', ...entries.map(([id]) => id));
    }
  })();
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      for (; sent < due; sent++) void prod.xadd(key, '*', 't', String(performance.now()), 'data', payload);
      if (performance.now() - start >= ms) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  await sleep(500);
  running = false;
  await reader;
  prod.disconnect();
  cons.disconnect();
  const st = stats(lat.view());
  return {
    run: 'raw redis XADD→XREADGROUP', 'target/s': rate, 'achieved/s': Math.round(sent / (ms / 1000)), delivered: `${fmt((st.n / sent) * 100, 1)}%`,
    'p50 ms': fmt(st.p50, 2), 'p99 ms': fmt(st.p99, 2), 'p99.9 ms': fmt(st.p999, 2), 'max ms': fmt(st.max, 1),
  };
}

interface RedisLoad {
  /** used_cpu_user + used_cpu_sys, µs. */
  cpuUs: number;
  /** Commands executed, scripts' inner commands included (INFO commandstats). */
  calls: number;
}

async function redisLoad(url: string): Promise<RedisLoad> {
  const r = new Redis(url);
  try {
    const cpu = await r.info('cpu');
    const cmds = await r.info('commandstats');
    const num = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(cpu)?.[1] ?? 0);
    let calls = 0;
    for (const m of cmds.matchAll(/calls=(\d+)/g)) calls += Number(m[1]);
    return { cpuUs: (num('used_cpu_user') + num('used_cpu_sys')) * 1e6, calls };
  } finally {
    r.disconnect();
  }
}

async function runTransport(transport: Kind) {
  let redis: RedisServer | undefined;
  let server: ServerChild | undefined;
  const receiver = new Receiver();
  let sockets: Awaited<ReturnType<typeof connectRiders>>['sockets'] = [];
  try {
    if (transport === 'redis') {
      redis = await startBenchRedis();
      s.log('redis: raw XADD→XREADGROUP baseline');
      rows.push({ transport, ...(await rawRedisBaseline(redis.url, STEPS[0]!, 8_000)) });
    }
    const mode: Record<string, string> = transport === 'bare' ? { BENCH_MODE: 'bare-live' } : { BENCH_MODE: 'service', TRANSPORT: transport };
    server = await startServerChild({ ...mode, ...(redis && { REDIS_URL: redis.url }) }, { label: `server/${transport}` });
    const total = Math.max(...STEPS);
    let t0 = Date.now();
    const trips: TripInfo[] = [];
    for (let from = 0; from < total; from += 500) {
      const { trips: made } = await server.post<{ trips: TripInfo[] }>('/bench/trips', { from, count: Math.min(500, total - from) });
      trips.push(...made);
    }
    const setupS = (Date.now() - t0) / 1000;
    s.log(`${transport}: ${trips.length} trips set up in ${setupS.toFixed(1)} s`);
    t0 = Date.now();
    const connected = await connectRiders(server.url.replace('http', 'ws'), trips, receiver);
    sockets = connected.sockets;
    const connectS = (Date.now() - t0) / 1000;
    s.log(`${transport}: ${sockets.length} rider sockets subscribed in ${connectS.toFixed(1)} s (${connected.failed} failed ${connected.firstError})`);
    setupRows.push({ transport, trips: trips.length, 'trip set-up s': fmt(setupS), 'riders subscribed': sockets.length, 'socket failures': connected.failed, 'connect s': fmt(connectS) });
    const byRide = new Set(sockets.map((x) => x.rideId));

    const sender = driverSender(server.url, trips);
    for (const n of STEPS) {
      const watched = trips.slice(0, n).filter((t) => byRide.has(t.rideId)).length;
      s.log(`${transport}: ${n} drivers × 1/s for ${(WARMUP_MS + MEASURE_MS) / 1000} s`);
      const start = Date.now();
      const from = start + WARMUP_MS;
      const to = from + MEASURE_MS;
      receiver.window(from, to);
      sender.window(from, to);
      const before = { ...sender.counters };
      let redisFrom: Promise<RedisLoad> | undefined;
      let ioFrom: SysCalls | undefined;
      setTimeout(() => {
        void server!.get('/bench/stats?reset=1');
        ioFrom = sysCalls(server!.pid);
        clientEld.reset();
        if (redis) redisFrom = redisLoad(redis.url);
      }, WARMUP_MS).unref();
      await sender.run(n, WARMUP_MS + MEASURE_MS, n);
      const ioTo = sysCalls(server!.pid);
      const redisTo = redis ? await redisLoad(redis.url) : undefined;
      const redisUsed = redisFrom && redisTo ? { cpuUs: redisTo.cpuUs - (await redisFrom).cpuUs, calls: redisTo.calls - (await redisFrom).calls } : undefined;
      type Srv = { cpuPct: number; cpuUs: number; eldMs: { p50: number; p99: number; max: number }; gcMs: Record<'minor' | 'major', { n: number; total: number; max: number }>; rssMiB: number; locationsSeen: number; locationsAccepted: number };
      const srv = await server.get<Srv>('/bench/stats');
      const cli = { p99: clientEld.percentile(99) / 1e6 };
      // Consumer lag when the senders stop: events appended but not yet through the tracker.
      const lagAtEnd = srv.locationsAccepted - srv.locationsSeen;
      const w = sender.windowCounts;
      const drainMs = await waitUntil(() => sender.counters.inFlight === 0 && receiver.received >= w.ok, DRAIN_MAX_MS);
      const st = stats(receiver.latencies.view());
      const post = stats(sender.postLatencies());
      const achieved = w.sent / (MEASURE_MS / 1000);
      const held = achieved >= 0.95 * n && st.p99 < 1000 && receiver.received >= 0.99 * w.ok;
      rows.push({
        transport,
        run: `${n} drivers`,
        'target/s': n,
        'achieved/s': Math.round(achieved),
        '2xx/s': Math.round(w.ok / (MEASURE_MS / 1000)),
        delivered: w.ok ? `${fmt((receiver.received / w.ok) * 100, 1)}%` : '',
        'p50 ms': st.p50,
        'p99 ms': st.p99,
        'p99.9 ms': st.p999,
        'max ms': st.max,
        // The driver's POST alone (queueing in the client's pool of 256 sockets included): a high p99
        // here and not in the server's event loop means requests waited for a socket.
        'POST p50 / p99 ms': `${fmt(post.p50, 1)} / ${fmt(post.p99, 1)}`,
        'non-2xx': sender.counters.non2xx - before.non2xx,
        errors: sender.counters.errors - before.errors,
        'skipped (backlog)': sender.counters.skipped - before.skipped,
        'consumer lag at end': lagAtEnd,
        'drain s': fmt(drainMs / 1000),
        'srv cpu %': srv.cpuPct,
        // Over the measured window: the server's CPU time per point it accepted (2xx), all consumers on.
        'srv cpu µs/pt': w.ok ? fmt(srv.cpuUs / w.ok, 1) : '',
        'srv ELD p99 ms': srv.eldMs.p99,
        // Each write to a loopback socket runs the TCP send and the receiver's wake-up in this process's
        // time: a write or read saved is CPU saved, in the service and in whoever is at the other end.
        ...(ioFrom && ioTo && w.ok && { 'srv writes/pt': fmt((ioTo.writes - ioFrom.writes) / w.ok, 2), 'srv reads/pt': fmt((ioTo.reads - ioFrom.reads) / w.ok, 2) }),
        // redis-server shares the two cores: its CPU per point counts against the machine as the service's does.
        ...(redisUsed && w.ok && { 'redis cpu µs/pt': fmt(redisUsed.cpuUs / w.ok, 1), 'redis cmds/pt': fmt(redisUsed.calls / w.ok, 1) }),
        // One long stall hides in a p99 of 1 ms samples; it shows here (and in POST p99).
        'srv ELD max ms': srv.eldMs.max,
        // The collector's pauses in the window: minor (scavenge) and major (mark-compact), count and longest.
        'srv GC minor n / max ms': `${srv.gcMs.minor.n} / ${srv.gcMs.minor.max}`,
        'srv GC major n / max ms': `${srv.gcMs.major.n} / ${srv.gcMs.major.max}`,
        'srv RSS MiB': srv.rssMiB,
        'client ELD p99 ms': fmt(cli.p99, 1),
        held: held ? 'yes' : 'NO (saturated)',
        ...(watched < n && { note: `${watched} watched` }),
      });
      s.log(`${transport} ${n}: p50 ${st.p50} p99 ${st.p99} max ${st.max} ms, delivered ${receiver.received}/${w.ok}, achieved ${Math.round(achieved)}/s`);
      // The next step starts from an empty queue: let the consumers catch up first (bounded).
      await waitUntil(async () => {
        const x = await server!.get<{ locationsSeen: number; locationsAccepted: number }>('/bench/stats');
        return x.locationsSeen >= x.locationsAccepted;
      }, 10_000);
      await sleep(500);
    }
    sender.close();
  } catch (err) {
    s.log(`${transport}: FAILED ${(err as Error).stack}`);
    rows.push({ transport, run: 'failed', held: (err as Error).message.split('\n')[0]!.slice(0, 160) });
  } finally {
    for (const x of sockets) x.ws.terminate();
    await server?.stop().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
  }
}

interface SysCalls { reads: number; writes: number }
/** The process's read and write system calls so far (/proc/<pid>/io: syscr, syscw; sockets included). */
function sysCalls(pid: number): SysCalls | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1]);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return undefined; // not Linux, or not ours to read
  }
}

for (const t of TRANSPORTS) await runTransport(t);

// CPU per point over the floor's at the same rate (the mean of the bare runs), as ingest does over bare Fastify.
for (const r of rows) {
  if (r.transport === 'bare' || !r['srv cpu µs/pt']) continue;
  const floors = rows.filter((b) => b.transport === 'bare' && b['target/s'] === r['target/s'] && b['srv cpu µs/pt']).map((b) => Number(b['srv cpu µs/pt']));
  if (floors.length) r['cpu x bare'] = fmt(Number(r['srv cpu µs/pt']) / (floors.reduce((a, b) => a + b, 0) / floors.length), 2);
}

// A transport named more than once (BENCH_E2E_TRANSPORTS=bare,memory,redis,bare,memory,redis,bare):
// the median of its runs at each rate. Single runs minutes apart on an idle machine differ by 1.5×
// in CPU per point and 2× in p99; a median of three says more than any one of them.
const medianRows: Row[] = [];
{
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const runs = rows.filter((r) => typeof r['target/s'] === 'number' && String(r.run).endsWith('drivers'));
  for (const key of [...new Set(runs.map((r) => `${r.transport}|${r['target/s']}`))]) {
    const same = runs.filter((r) => `${r.transport}|${r['target/s']}` === key);
    if (same.length < 2) continue;
    const of = (col: string) => same.map((r) => Number(r[col])).filter((x) => Number.isFinite(x));
    const mid = (col: string) => (of(col).length ? fmt(median(of(col)), 1) : '');
    const spread = (col: string) => (of(col).length ? `${fmt(Math.min(...of(col)), 1)}–${fmt(Math.max(...of(col)), 1)}` : '');
    medianRows.push({
      transport: same[0]!.transport, 'target/s': same[0]!['target/s'], runs: same.length,
      'p99 ms median': mid('p99 ms'), 'p99 ms range': spread('p99 ms'),
      'srv cpu % median': mid('srv cpu %'), 'srv cpu µs/pt median': mid('srv cpu µs/pt'), 'srv cpu µs/pt range': spread('srv cpu µs/pt'),
      'cpu x bare median': mid('cpu x bare'), held: `${same.filter((r) => r.held === 'yes').length}/${same.length}`,
    });
  }
}

s.table({ title: 'e2e set-up (not timed in the latency figures)', rows: setupRows });
s.table({ title: `e2e: driver POST → log → consumer → rider socket, ${WARMUP_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s measured per step (latency in ms)`, rows });
if (medianRows.length) s.table({ title: 'e2e: median of the runs of each transport and rate (a transport listed more than once in BENCH_E2E_TRANSPORTS)', rows: medianRows });
s.note('Trips are set up through the app services (request → offer → accept → assign → start) inside the server, not timed; tokens are signed with the server key as /v1/auth/login signs them. Only the measured path is HTTP → log → consumer → WebSocket.');
s.note('Latency is receive time − recordedAt (the driver\'s send time, ms resolution, same clock). Open loop: a driver sends every second whatever the answers; queueing in the client counts. delivered = location messages received for points sent in the window / 2xx for them.');
s.note('consumer lag at end = points appended but not yet handled by the tracker\'s consumer when the senders stopped; drain s = how long the last messages took to arrive after that (capped at 10 s: what had not arrived by then counts as not delivered).');
s.note('held = achieved ≥ 95% of target, p99 < 1 s and ≥ 99% delivered. Drivers, riders and the server share the machine\'s 2 cores (client ELD p99 shows how busy the load generator was).');
s.note('bare = the floor of this path (BENCH_MODE=bare-live): bare Fastify + @fastify/websocket, the same clients, sockets and rate, each POST (same body schema, 202, no auth, no log) pushed at once to the rider socket of that driver\'s ride. cpu x bare = srv cpu µs/pt over the mean of the bare runs at the same rate: what the service adds to one HTTP reply and one WebSocket frame per point.');
s.note('srv writes/pt, srv reads/pt: the server process\'s write and read system calls (/proc/<pid>/io syscw, syscr: sockets, HTTP, WebSocket and Redis alike) over the measured window, per accepted point.');
s.note('redis cpu µs/pt, redis cmds/pt: redis-server\'s CPU time (INFO cpu) and the commands it ran (INFO commandstats, the scripts\' inner commands included) over the measured window, per accepted point.');
s.note('raw redis XADD→XREADGROUP: a producer XADDs at the first step\'s rate and a consumer group member reads (BLOCK, COUNT 100) and acks, on the same Redis: the floor for the Redis path.');
const headline = rows.filter((r) => r['target/s'] && r.run !== 'raw redis XADD→XREADGROUP')
  .map((r) => `${r.transport} ${r.run}: p99 ${r['p99 ms']} ms${r['cpu x bare'] ? `, cpu ${r['cpu x bare']}x bare` : ''}${r.held === 'yes' ? '' : ' (saturated)'}`).join('; ');
s.write(headline || 'failed');
process.exit(0);
