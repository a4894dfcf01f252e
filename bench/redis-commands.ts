// Redis commands per accepted GPS point (issue 15, session 6): one service process on Redis with
// the production settings (partitioned GPS work, 8 shards), N drivers each POSTing a point per
// round, counted by Redis itself from before the first point to after the last one was handled:
// commands the service sent (MONITOR, scripts' inner commands left out), per connection, and the
// socket reads Redis processed (INFO stats total_reads_processed: about one per client write).
// Usage: npx tsx bench/redis-commands.ts [drivers=50] [rounds=40]
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startServer, stopAll, TEST_ADMIN, type ServerProcess } from '../test/support/server-process.ts';
import { http } from '../test/support/http-client.ts';
import { metric } from '../test/support/metrics.ts';
import { startRedis } from '../test/support/redis.ts';
import { waitFor } from '../test/support/wait.ts';

const DRIVERS = Number(process.argv[2] ?? 50);
const ROUNDS = Number(process.argv[3] ?? 40);

/** The server process's CPU time (user + system) so far, in µs (/proc, clock ticks of 10 ms). */
const cpuUs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
};
const readsProcessed = async (r: Redis) => Number(/total_reads_processed:(\d+)/.exec(await r.info('stats'))?.[1] ?? 0);

const redis = await startRedis();
const raw = new Redis(redis.url, { protocol: 2 } as never);
let server: ServerProcess | undefined;
let monitor: Redis | undefined;
try {
  server = await startServer({ name: 'commands', env: { TRANSPORT: 'redis', REDIS_URL: redis.url, STREAM_PREFIX: 'cmd:', INSTANCE_ID: 'a' } });
  const api = http(server.url);
  const admin = (await api.login(TEST_ADMIN.username, TEST_ADMIN.password)).token;
  const drivers = await Promise.all(Array.from({ length: DRIVERS }, () => api.user(admin, 'driver')));
  const handled = () => metric(server!.url, 'ridecast_gps_points_handled_total');
  const h0 = await handled();
  monitor = await raw.monitor(); // a connection of its own
  const byCommand = new Map<string, number>();
  const byClient = new Map<string, Map<string, number>>();
  let recording = true;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (!recording || source === 'lua') return;
    const cmd = String(args[0]).toLowerCase();
    if (cmd === 'info') return;
    byCommand.set(cmd, (byCommand.get(cmd) ?? 0) + 1);
    const c = byClient.get(source) ?? new Map<string, number>();
    c.set(cmd, (c.get(cmd) ?? 0) + 1);
    byClient.set(source, c);
  });
  const reads0 = await readsProcessed(raw);
  const cpu0 = cpuUs(server.pid);
  // Steady load, as autocannon's: each driver posts its next point as soon as the last is answered.
  const t0 = Date.now() - ROUNDS * 2_000;
  let accepted = 0;
  await Promise.all(
    drivers.map(async (d, i) => {
      for (let r = 0; r < ROUNDS; r++) {
        const x = await api.post('/v1/drivers/me/locations', d.token, { lat: 52.5 + i * 0.002 + r * 0.0001, lng: 13.4, recordedAt: t0 + r * 2_000 });
        if (x.status === 202 && Number(x.body.accepted ?? 1) === 1) accepted++;
      }
    }),
  );
  await waitFor(async () => (await handled()) - h0 >= accepted, 'every point handled', 30_000);
  recording = false;
  const cpu = cpuUs(server.pid) - cpu0;
  // The MONITOR connection's own reads and the two INFOs are not the service's.
  const reads = (await readsProcessed(raw)) - reads0 - 2;
  const sent = [...byCommand.values()].reduce((a, b) => a + b, 0);
  const per = (n: number) => (n / accepted).toFixed(3);
  console.log(`accepted points: ${accepted}`);
  for (const [k, v] of [...byCommand].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(14)} ${String(v).padStart(7)}  ${per(v)}/pt`);
  console.log(`server CPU per accepted point: ${Math.round(cpu / accepted)} µs (user + system, includes the polls of the handled metric)`);
  console.log(`commands sent per point: ${per(sent)}; socket reads (≈ client writes) per point: ${per(reads)}`);
  console.log('per connection:');
  for (const [client, cmds] of [...byClient].sort((a, b) => b[1].size - a[1].size))
    console.log(`  ${client.padEnd(22)} ${[...cmds].map(([k, v]) => `${k} ${per(v)}`).join(', ')}`);
} finally {
  monitor?.disconnect();
  if (server) await stopAll([server]);
  raw.disconnect();
  await redis.stop();
}
process.exit(0);
