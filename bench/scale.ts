// scale: total CPU per GPS point of N instances (real src/main.ts processes) on one Redis, against
// one instance carrying the same load alone, in the same run. The load is a fixed point rate spread
// round-robin over the instances; CPU is each server process's utime + stime (/proc/<pid>/stat)
// from the start of the load until every point has been through every consumer (plus the idle
// cost of the extra instances over that window, which is part of what they cost).
import { readFileSync } from 'node:fs';
import { startServer, stopAll, TEST_ADMIN, type ServerProcess } from '../test/support/server-process.ts';
import { http } from '../test/support/http-client.ts';
import { startBenchRedis } from './lib/infra.ts';
import { fmt, scenario, sleep, type Row } from './lib/report.ts';

const RATE = Number(process.env.BENCH_SCALE_RATE ?? 400); // points/s, all instances together
const SECONDS = Number(process.env.BENCH_SCALE_SECONDS ?? 10);
const DRIVERS = Number(process.env.BENCH_SCALE_DRIVERS ?? 100);
const INSTANCES = Number(process.env.BENCH_SCALE_INSTANCES ?? 3);
const TICK_S = 0.01; // clock ticks per second of /proc/<pid>/stat: 100 Hz on Linux

const s = scenario('scale');
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_S; // utime, stime (fields 14, 15)
};

const redis = await startBenchRedis();
const prefix = `scale${process.pid}:`;
const env = (id: string) => ({ TRANSPORT: 'redis', REDIS_URL: redis.url, STREAM_PREFIX: prefix, INSTANCE_ID: id, LOG_LEVEL: 'error' });
const servers: ServerProcess[] = [];
try {
  for (let i = 0; i < INSTANCES; i++) servers.push(await startServer({ name: `instance ${i + 1}`, env: env(`i${i + 1}`), readyTimeoutMs: 120_000 }));
  const apis = servers.map((sv) => http(sv.url));
  const admin = (await apis[0]!.login(TEST_ADMIN.username, TEST_ADMIN.password)).token;
  s.log(`creating ${DRIVERS} drivers`);
  const drivers: { token: string; lat: number; lng: number; at: number }[] = [];
  for (let i = 0; i < DRIVERS; i++) {
    const d = await apis[0]!.user(admin, 'driver');
    await apis[0]!.put('/v1/drivers/me/availability', d.token, { available: true });
    drivers.push({ token: d.token, lat: 52.5 + (i % 10) * 0.01, lng: 13.3 + Math.floor(i / 10) * 0.01, at: Date.now() - 600_000 });
  }

  /** Sends RATE points/s for SECONDS over the first `n` instances; returns accepted points and server CPU seconds. */
  async function run(n: number): Promise<Row> {
    const active = servers.slice(0, n);
    const all = servers.map((sv) => sv.pid);
    const cpu0 = all.map(cpuSeconds);
    const total = RATE * SECONDS;
    let sent = 0;
    let accepted = 0;
    let failed = 0;
    const started = Date.now();
    const inFlight = new Set<Promise<void>>();
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * RATE));
      for (; sent < due; sent++) {
        const d = drivers[sent % DRIVERS]!;
        d.lng += 0.00003; // about 2 m
        d.at += 1_000; // device time 1 s apart (2 m: a plausible speed), starting 10 min ago
        const p = apis[sent % n]!.post('/v1/drivers/me/locations', d.token, { lat: d.lat, lng: d.lng, recordedAt: d.at }).then((r) => {
          if (r.status === 202) accepted += Number(r.body.accepted ?? 0);
          else failed++;
        });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      await sleep(5);
    }
    await Promise.all([...inFlight]);
    // Until every instance's consumers are idle: CPU settles (less than 2% of a core over 500 ms).
    for (let quiet = 0; quiet < 3; ) {
      const a = all.map(cpuSeconds).reduce((x, y) => x + y, 0);
      await sleep(500);
      const b = all.map(cpuSeconds).reduce((x, y) => x + y, 0);
      quiet = b - a < 0.01 * all.length + 0.01 ? quiet + 1 : 0;
    }
    const cpu = all.map(cpuSeconds).reduce((x, y, i) => x + y - cpu0[i]!, 0);
    const perPointUs = (cpu / Math.max(1, accepted)) * 1e6;
    s.log(`${n} instance(s) loaded of ${all.length} running: ${accepted} points, CPU ${cpu.toFixed(2)} s`);
    return { 'instances loaded': n, 'instances running': all.length, points: accepted, failed, 'server CPU s': fmt(cpu, 2), 'CPU µs / point': Math.round(perPointUs) };
  }

  // The load spread over every instance, then the same load on one instance alone (the others
  // stopped; it has seen everything already, so it has no replay to do).
  const spread = await run(INSTANCES);
  await stopAll(servers.splice(1));
  const one = await run(1);
  const ratio = Number(spread['CPU µs / point']) / Number(one['CPU µs / point']);
  s.table({ title: `scale: ${RATE} points/s for ${SECONDS} s on one Redis, ${DRIVERS} drivers`, rows: [one, { ...spread, '× one': fmt(ratio, 2) }] });
  s.note(`total CPU per point, ${INSTANCES} instances vs 1: ${ratio.toFixed(2)}× (target ≤ 1.5×). Each instance still consumes every point (partitioned processing not done).`);
  s.write(`${INSTANCES} instances: ${ratio.toFixed(2)}× the CPU per point of one`);
} finally {
  await stopAll(servers);
  await redis.stop();
}
process.exit(0);
