// ingest: autocannon POSTs to /v1/drivers/me/locations, one real driver (token) per connection,
// against the whole service on memory, Redis and Kafka, alternated with a bare Fastify handler
// (same body schema, 202) in the same run. After each run: every 2xx must be an event in the log.
import autocannon from 'autocannon';
import { startServerChild, type ServerChild } from './lib/child.ts';
import { createDrivers, startBenchRedis, startKafka, type KafkaCluster, type RedisServer } from './lib/infra.ts';
import { fmt, scenario, sleep, type Row } from './lib/report.ts';

const CONNECTIONS = Number(process.env.BENCH_INGEST_CONNECTIONS ?? 50);
const DURATION_S = Number(process.env.BENCH_INGEST_SECONDS ?? 8);
const WARMUP_S = 2;

type Kind = 'bare' | 'bare-xadd' | 'memory' | 'redis' | 'kafka';
const PLAN = (process.env.BENCH_INGEST_PLAN?.split(',') ?? ['bare', 'memory', 'bare', 'redis', 'bare-xadd', 'bare', 'kafka', 'bare']) as Kind[];

const s = scenario('ingest');

interface Driver {
  token: string;
  lat: number;
  lng: number;
  at: number;
}

const LAT0 = 52.52;
const DLNG = 1 / (111_195 * Math.cos((LAT0 * Math.PI) / 180)); // one metre east

function makeDrivers(tokens: string[]): Driver[] {
  return tokens.map((token, i) => ({ token, lat: LAT0 + (i % 50) * 0.002, lng: 13.3 + Math.floor(i / 50) * 0.002, at: 0 }));
}

/** One autocannon run; each connection is one driver sending small moves at strictly increasing Date.now() times. */
async function cannon(url: string, drivers: Driver[], seconds: number): Promise<autocannon.Result> {
  let next = 0;
  const requests: autocannon.Request[] = [
    {
      method: 'POST',
      path: '/v1/drivers/me/locations',
      setupRequest: (req, context) => {
        const index = (context as { d?: number }).d;
        // Built before setupClient gives the connection its driver, and never sent: move nobody.
        if (index === undefined) return { ...req, body: '{}' };
        const d = drivers[index]!;
        d.lng += 2 * DLNG; // 2 m per point: plausible at any request rate (the speed check floors gaps at 1 s)
        d.at = Math.max(Date.now(), d.at + 1);
        return {
          ...req,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${d.token}` },
          body: JSON.stringify({ lat: d.lat, lng: d.lng, recordedAt: d.at, heading: 90, speed: 8, accuracy: 5 }),
        };
      },
    },
  ];
  return autocannon({
    url,
    connections: Math.min(CONNECTIONS, drivers.length),
    pipelining: 1,
    duration: seconds,
    requests,
    // autocannon resets a connection's context on every loop over `requests` and shares the request
    // objects between connections: give each connection its own copies and its driver in initialContext.
    setupClient: (client) => {
      const it = (client as unknown as {
        requestIterator: { initialContext: object; resetContext(): void; setRequests(r: autocannon.Request[]): void };
      }).requestIterator;
      it.initialContext = { d: next++ % drivers.length };
      it.resetContext();
      it.setRequests(requests.map((r) => ({ ...r })));
    },
  });
}

async function metric(server: ServerChild, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && !line.startsWith('#')) sum += Number(line.split(' ').at(-1));
  return sum;
}

let redis: RedisServer | undefined;
let kafka: KafkaCluster | undefined;
const rows: Row[] = [];

async function run(kind: Kind): Promise<void> {
  const label = kind === 'bare' || kind === 'bare-xadd' ? kind : `service/${kind}`;
  s.log(`${label}: starting`);
  let server: ServerChild | undefined;
  try {
    if ((kind === 'redis' || kind === 'bare-xadd') && !redis) redis = await startBenchRedis();
    if (kind === 'kafka' && !kafka) kafka = await startKafka();
    const env: Record<string, string> =
      kind === 'bare' ? { BENCH_MODE: 'bare' }
      : kind === 'bare-xadd' ? { BENCH_MODE: 'bare-xadd', REDIS_URL: redis!.url }
      : { BENCH_MODE: 'service', TRANSPORT: kind, ...(redis && { REDIS_URL: redis.url }), ...(kafka && { KAFKA_BROKERS: kafka.brokers.join(',') }) };
    const t0 = Date.now();
    server = await startServerChild(env, { label, timeoutMs: 120_000 });
    const startS = (Date.now() - t0) / 1000;
    const service = !kind.startsWith('bare');
    // Real accounts for the service (admin creates, driver logs in); the bare handler checks no token.
    const tokens = service ? (await createDrivers(server, CONNECTIONS)).map((d) => d.token) : Array.from({ length: CONNECTIONS }, () => 'none');
    const drivers = makeDrivers(tokens);
    const url = server.url;

    await cannon(url, drivers, WARMUP_S);
    await sleep(500);
    const count = async () => (await server!.get<{ events: number | null }>('/bench/count')).events ?? NaN;
    const before = kind === 'bare' ? 0 : await count();
    const rejectedBefore = service ? await metric(server, 'ridecast_locations_rejected_total') : 0;
    await server.get('/bench/stats?reset=1');
    const r = await cannon(url, drivers, DURATION_S);
    const stats = await server.get<{ cpuPct: number; cpuUs: number; eldMs: { p99: number }; rssMiB: number }>('/bench/stats');
    await sleep(1000); // answers in flight when autocannon stopped still land
    const after = kind === 'bare' ? 0 : await count();
    const rejected = service ? (await metric(server, 'ridecast_locations_rejected_total')) - rejectedBefore : 0;
    if (rejected > 0) {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      s.log(`rejections: ${text.split('\n').filter((l) => l.startsWith('ridecast_locations_rejected_total')).join(', ')}`);
    }
    const ok = r['2xx'];
    const events = after - before;
    const rps = r.requests.average;
    rows.push({
      run: label,
      'req/s': Math.round(rps),
      'p50 ms': fmt(r.latency.p50, 2),
      'p99 ms': fmt(r.latency.p99, 2),
      'max ms': fmt(r.latency.max, 1),
      'x bare': '',
      '2xx': ok,
      'non-2xx': r.non2xx,
      errors: r.errors + r.timeouts,
      'log events': kind === 'bare' ? '' : events,
      rejected: service ? rejected : '',
      lost: kind === 'bare' ? '' : Math.max(0, ok - rejected - events),
      'srv cpu %': stats.cpuPct,
      // Per accepted point (per request for bare): the server's CPU time over the measured run.
      'srv cpu µs/pt': fmt(stats.cpuUs / Math.max(1, ok - rejected), 1),
      'cpu x bare': '',
      'srv ELD p99 ms': stats.eldMs.p99,
      'srv RSS MiB': stats.rssMiB,
      'start s': fmt(startS, 1),
      status: r.errors + r.timeouts + r.non2xx > 0 ? 'errors' : 'ok',
    });
    s.log(`${label}: ${Math.round(rps)} req/s, p99 ${r.latency.p99} ms, 2xx ${ok}, events ${events}`);
  } catch (err) {
    s.log(`${label}: FAILED ${(err as Error).message.split('\n')[0]}`);
    rows.push({ run: label, status: `failed: ${(err as Error).message.split('\n')[0]!.slice(0, 160)}` });
  } finally {
    await server?.stop().catch(() => undefined);
  }
}

for (const kind of PLAN) await run(kind);
await redis?.stop();
await kafka?.stop();

// Against the bare runs on either side (the machine's load drifts): the mean of the nearest before and after.
rows.forEach((r, i) => {
  if (r.run === 'bare' || typeof r['req/s'] !== 'number') return;
  const near = [rows.slice(0, i).reverse(), rows.slice(i + 1)]
    .map((side) => side.find((x) => x.run === 'bare' && typeof x['req/s'] === 'number')?.['req/s'] as number | undefined)
    .filter((x): x is number => x !== undefined);
  if (near.length) r['x bare'] = fmt(r['req/s'] / (near.reduce((a, b) => a + b, 0) / near.length), 2);
  const cpuNear = [rows.slice(0, i).reverse(), rows.slice(i + 1)]
    .map((side) => Number(side.find((x) => x.run === 'bare' && typeof x['req/s'] === 'number')?.['srv cpu µs/pt']))
    .filter((x) => Number.isFinite(x) && x > 0);
  if (cpuNear.length) r['cpu x bare'] = fmt(Number(r['srv cpu µs/pt']) / (cpuNear.reduce((a, b) => a + b, 0) / cpuNear.length), 2);
});
s.table({ title: `ingest: POST /v1/drivers/me/locations, ${CONNECTIONS} connections (1 driver each), ${DURATION_S} s per run after ${WARMUP_S} s warm-up`, rows });
s.note('x bare = req/s over the mean of the bare Fastify runs just before and after it (same body schema, 202, no auth, no log). bare-xadd = bare + one raw XADD per request (ioredis auto-pipelining), the Redis floor.');
s.note('srv cpu µs/pt = the server process\'s CPU time (process.cpuUsage, user + system, every consumer running) over the measured run ÷ accepted points (bare: ÷ requests); cpu x bare = that over the mean of the bare runs just before and after it.');
s.note('lost = 2xx − rejected points − driver-locations events the log gained during the run (memory: log.read, Redis: XLEN, Kafka: topic offsets). It must be 0.');
s.note('Redis: redis-server with AOF, appendfsync everysec; service adapters as src/infrastructure.ts builds them. Kafka: librdkafka mock cluster (test/support/kafka.ts), kafkajs without the idempotent producer (the mock cannot), so Kafka figures are a smoke check, not a broker benchmark.');
s.note('Load generator (autocannon) and server share this machine\'s cores; srv cpu % is the server process over the measured run (100 = one core).');
const service = rows.filter((r) => String(r.run).startsWith('service/'));
s.write(service.map((r) => `${String(r.run).slice(8)} ${r['req/s'] ?? 'failed'} req/s (${r['x bare'] || '?'}x bare, cpu/pt ${r['cpu x bare'] || '?'}x bare), lost ${r.lost ?? '?'}`).join('; '));
process.exit(0);
