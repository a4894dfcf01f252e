// scale: total CPU per GPS point of N instances (real src/main.ts processes) on one Redis, against
// one instance carrying the same load alone, in the same run, for each GPS_WORK mode: `broadcast`
// (every instance reads every point: the behaviour before partitioning) and `partitioned` (each
// GPS shard read by one instance, README "Scaling out"). The load is a fixed point rate spread
// round-robin over the instances, each driver's requests one at a time (as a phone sends them); CPU
// is each server process's utime + stime (/proc/<pid>/stat) from the start of the load until every
// point has been through every consumer (plus the idle cost of the extra instances over that
// window, which is part of what they cost).
import { readFileSync } from 'node:fs';
import { startServer, stopAll, TEST_ADMIN, type ServerProcess } from '../test/support/server-process.ts';
import { http } from '../test/support/http-client.ts';
import { startBenchRedis } from './lib/infra.ts';
import { fmt, scenario, sleep, type Row } from './lib/report.ts';

const RATE = Number(process.env.BENCH_SCALE_RATE ?? 400); // points/s, all instances together
const SECONDS = Number(process.env.BENCH_SCALE_SECONDS ?? 10);
const DRIVERS = Number(process.env.BENCH_SCALE_DRIVERS ?? 40);
const MODES = (process.env.BENCH_SCALE_MODES ?? 'broadcast,partitioned').split(',') as ('broadcast' | 'partitioned')[];
const INSTANCES = Number(process.env.BENCH_SCALE_INSTANCES ?? 3);
/** Unmeasured load first, on the same instances: each process's JIT warm-up and first GCs are not per-point cost. */
const WARM_SECONDS = Number(process.env.BENCH_SCALE_WARM_SECONDS ?? 12);
const TICK_S = 0.01; // clock ticks per second of /proc/<pid>/stat: 100 Hz on Linux

const s = scenario('scale');
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_S; // utime, stime (fields 14, 15)
};

const redis = await startBenchRedis();
const servers: ServerProcess[] = [];
const rows: Row[] = [];
const ratios: string[] = [];
// One namespace for both modes: the drivers (accounts, scrypt: slow) are made once.
const prefix = `scale${process.pid}:`;
const drivers: { token: string; lat: number; lng: number; at: number; busy: boolean }[] = [];
const settle = async (pids: number[]) => {
  // Until every instance's consumers are idle: CPU settles (less than 2% of a core over 500 ms).
  for (let quiet = 0; quiet < 3; ) {
    const x = pids.map(cpuSeconds).reduce((p, q) => p + q, 0);
    await sleep(500);
    const y = pids.map(cpuSeconds).reduce((p, q) => p + q, 0);
    quiet = y - x < 0.01 * pids.length + 0.01 ? quiet + 1 : 0;
  }
};
try {
  for (const mode of MODES) {
    const env = (id: string) => ({ TRANSPORT: 'redis', REDIS_URL: redis.url, STREAM_PREFIX: prefix, INSTANCE_ID: id, LOG_LEVEL: 'error', GPS_WORK: mode });
    for (let i = 0; i < INSTANCES; i++) servers.push(await startServer({ name: `${mode} ${i + 1}`, env: env(`i${i + 1}`), readyTimeoutMs: 120_000 }));
    const apis = servers.map((sv) => http(sv.url));
    const admin = (await apis[0]!.login(TEST_ADMIN.username, TEST_ADMIN.password)).token;
    if (drivers.length === 0) s.log(`creating ${DRIVERS} drivers`);
    for (let i = drivers.length; i < DRIVERS; i++) {
      const d = await apis[0]!.user(admin, 'driver');
      await apis[0]!.put('/v1/drivers/me/availability', d.token, { available: true });
      drivers.push({ token: d.token, lat: 52.5 + (i % 10) * 0.01, lng: 13.3 + Math.floor(i / 10) * 0.01, at: Date.now() - 600_000, busy: false });
    }
    if (mode === 'partitioned') await sleep(4_000); // the shards shared out over the instances (lease rounds)
    await settle(servers.map((sv) => sv.pid)); // what earlier modes left in the log is read first

    /** Sends RATE points/s for SECONDS over the first `n` instances; returns accepted points and server CPU seconds. */
    const run = async (n: number, seconds = SECONDS): Promise<Row> => {
      const all = servers.map((sv) => sv.pid);
      const cpu0 = all.map(cpuSeconds);
      const total = RATE * seconds;
      let sent = 0;
      let accepted = 0;
      const failures = new Map<number, number>();
      const started = Date.now();
      const inFlight = new Set<Promise<void>>();
      let next = 0;
      while (sent < total) {
        const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * RATE));
        // Round-robin over drivers not waiting for an answer: one request per driver at a time.
        for (let tries = 0; sent < due && tries < DRIVERS; tries++) {
          const d = drivers[next++ % DRIVERS]!;
          if (d.busy) continue;
          d.busy = true;
          // Device time 500 ms apart (screening's least), 1 m (2 m/s), starting 10 min ago: the
          // points of warm-ups and both modes stay within screening's 10 min of age and 30 s of future.
          d.lng += 0.000015;
          d.at += 500;
          const p = apis[sent % n]!.post('/v1/drivers/me/locations', d.token, { lat: d.lat, lng: d.lng, recordedAt: d.at }).then((r) => {
            d.busy = false;
            if (r.status === 202) accepted += Number(r.body.accepted ?? 0);
            else failures.set(r.status, (failures.get(r.status) ?? 0) + 1);
          });
          sent++;
          inFlight.add(p);
          void p.finally(() => inFlight.delete(p));
        }
        await sleep(5);
      }
      await Promise.all([...inFlight]);
      await settle(all);
      const cpu = all.map(cpuSeconds).reduce((x, y, i) => x + y - cpu0[i]!, 0);
      const perPointUs = (cpu / Math.max(1, accepted)) * 1e6;
      // What the instances cost doing nothing, over as long as the load lasted (part of the figure above).
      const idle0 = all.map(cpuSeconds).reduce((x, y) => x + y, 0);
      await sleep(3_000);
      const idleMsPerS = ((all.map(cpuSeconds).reduce((x, y) => x + y, 0) - idle0) / 3) * 1000;
      const failed = [...failures].map(([st, c]) => `${c}×${st}`).join(' ') || '0';
      s.log(`${mode}: ${n} instance(s) loaded of ${all.length} running: ${accepted} points accepted, failed ${failed}, CPU ${cpu.toFixed(2)} s`);
      return { mode, 'instances loaded': n, 'instances running': all.length, points: accepted, failed, 'server CPU s': fmt(cpu, 2), 'CPU µs / point': Math.round(perPointUs), 'idle CPU ms/s (all)': Math.round(idleMsPerS) };
    };

    // The load spread over every instance, then the same load on one instance alone (the others
    // stopped; it has seen everything already, so it has no replay to do).
    await run(INSTANCES, WARM_SECONDS);
    const spread = await run(INSTANCES);
    await stopAll(servers.splice(1));
    if (mode === 'partitioned') await sleep(4_000); // the survivor takes the stopped ones' shards
    await run(1, WARM_SECONDS);
    const one = await run(1);
    await stopAll(servers.splice(0));
    const ratio = Number(spread['CPU µs / point']) / Number(one['CPU µs / point']);
    rows.push(one, { ...spread, '× one': fmt(ratio, 2) });
    ratios.push(`${mode} ${ratio.toFixed(2)}×`);
  }
  s.table({ title: `scale: ${RATE} points/s for ${SECONDS} s on one Redis, ${DRIVERS} drivers`, rows });
  s.note(`total CPU per point, ${INSTANCES} instances vs 1 (target ≤ 1.5×): ${ratios.join(', ')}`);
  s.write(`${INSTANCES} instances vs 1, CPU per point: ${ratios.join(', ')}`);
} finally {
  await stopAll(servers);
  await redis.stop();
}
process.exit(0);
