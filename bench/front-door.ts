// front-door: what the two per-request checks every transport shares cost, the way they were and the
// way they are (issue 15), in one process, so the machine's load touches both alike:
// - the token check: fast-jwt's verifier with its cache on (keyed by a SHA-256 of the token, computed
//   on every lookup), against verifiedTokens (keyed by the token string) in front of the same verifier;
// - the account check on Redis: one HEXISTS per request (auto-pipelined, 50 in flight), against the
//   Redis user store's remembered accounts (a real redis-server).
// CPU µs per call (process.cpuUsage), median of the rounds.
//   npx tsx bench/front-door.ts   (BENCH_FRONT_CALLS, default 200,000 token checks per run; BENCH_FRONT_ROUNDS, default 5)
import { createSigner, createVerifier } from 'fast-jwt';
import { Redis } from 'ioredis';
import { verifiedTokens } from '../adapters/http/verified-tokens.ts';
import { getRedisUserStore } from '../adapters/redis/users.ts';
import { systemClock } from '../domain/ports/clock.ts';
import { startRedis } from '../test/support/redis.ts';

const CALLS = Number(process.env.BENCH_FRONT_CALLS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_FRONT_ROUNDS ?? 5);
const DRIVERS = 50;
const SECRET = 'bench-secret-that-is-long-enough';

const sign = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 });
const tokens = Array.from({ length: DRIVERS }, (_, d) => sign({ sub: `d_${d}`, role: 'driver' }));
// A fresh string per call, as a request's header slice is: no hash cached on the string by V8.
const fresh = (i: number) => `${tokens[i % DRIVERS]!} `.slice(0, -1);

const cpu = (run: () => void | Promise<void>, calls: number) => async () => {
  const before = process.cpuUsage();
  await run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / calls;
};

const hashed = createVerifier({ key: SECRET, algorithms: ['HS256'], cache: 20_000, cacheTTL: 300_000 });
const plain = createVerifier({ key: SECRET, algorithms: ['HS256'] });
const remembered = verifiedTokens({ verify: (t) => plain(t) as object, clock: systemClock, max: 20_000, ttlMs: 300_000 });

const server = await startRedis();
const redis = new Redis(server.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
const prefix = `front${process.pid}:`;
const store = getRedisUserStore(redis, prefix);
for (let d = 0; d < DRIVERS; d++) await store.create({ userId: `d_${d}`, username: `driver-${d}`, role: 'driver', passwordHash: 'none' });
const ACCOUNT_CALLS = CALLS / 10;
/** `ACCOUNT_CALLS` checks, 50 in flight like the ingest bench's connections. */
const inFlight = (check: (userId: string) => Promise<unknown>) => async () => {
  let next = 0;
  await Promise.all(Array.from({ length: DRIVERS }, async () => {
    while (next < ACCOUNT_CALLS) await check(`d_${next++ % DRIVERS}`);
  }));
};

const runs: Record<string, () => Promise<number>> = {
  'token: fast-jwt cache (SHA-256 key)': cpu(() => { for (let i = 0; i < CALLS; i++) hashed(fresh(i)); }, CALLS),
  'token: verifiedTokens (string key)': cpu(() => { for (let i = 0; i < CALLS; i++) remembered.claims(fresh(i)); }, CALLS),
  'account: HEXISTS per request': cpu(inFlight((id) => redis.hexists(`${prefix}{users}:by-id`, id)), ACCOUNT_CALLS),
  'account: remembered (Redis store)': cpu(inFlight((id) => store.exists!(id)), ACCOUNT_CALLS),
};
const results: Record<string, number[]> = {};
for (const run of Object.values(runs)) await run(); // warm-up
for (let round = 0; round < ROUNDS; round++) for (const [name, run] of Object.entries(runs)) (results[name] ??= []).push(await run());
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`\nfront door checks: ${CALLS} token checks, ${ACCOUNT_CALLS} account checks per run, ${DRIVERS} drivers, median of ${ROUNDS} rounds`);
console.log(`${'check'.padEnd(36)} ${'cpu µs/call'.padStart(11)}  all rounds`);
for (const [name, xs] of Object.entries(results)) console.log(`${name.padEnd(36)} ${median(xs).toFixed(2).padStart(11)}  ${xs.map((x) => x.toFixed(2)).join(' ')}`);
redis.disconnect();
await server.stop();
