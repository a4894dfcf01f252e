// In-process CPU per accepted GPS point on memory (issue 15, session 6): the service as makeService
// wires it, every consumer on, driven through ingestLocations() with no HTTP, so what is measured
// is screening, planning, the log and the in-process consumers alone. One point per call, as the
// ingest bench sends; 50 drivers moving 2 m a point; a warm-up of a quarter, then the measured run.
//   node --import tsx --expose-gc bench/inproc.ts [points=60000] [drivers=50] [concurrent calls=50]
import { loadConfig } from '../src/config.ts';
import { makeService } from '../src/wiring.ts';
const [N = 60_000, D = 50, C = 50] = process.argv.slice(2).map(Number);
const config = loadConfig({ TRANSPORT: 'memory', JWT_SECRET: 'bench-secret-that-is-long-enough', ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: 'admin-password-long', DEMO: '0', LOCATION_POINTS_PER_SECOND: '1000000000', LOCATION_POINTS_BURST: '1000000000', INSTANCE_ID: 'probe' } as NodeJS.ProcessEnv);
const svc = await makeService(config, {}, { trackingRules: { minIntervalMs: 0 } });
const drivers = Array.from({ length: D }, (_, i) => ({ actor: { userId: `d${i}`, role: 'driver' as const }, lat: 52.52 + (i % 50) * 0.002, lng: 13.3 + Math.floor(i / 50) * 0.002, at: 0 }));
for (const d of drivers) await svc.services.drivers.setAvailability(d.actor, true).catch((e: unknown) => console.error('avail', (e as Error).message));
const DLNG = 1 / (111_195 * Math.cos((52.52 * Math.PI) / 180));
let next = 0;
async function lane(n: number, accepted: { n: number }) {
  for (let k = 0; k < n; k++) {
    const d = drivers[next++ % drivers.length]!;
    d.lng += 2 * DLNG;
    d.at = Math.max(Date.now(), d.at + 1);
    const r = await svc.services.drivers.ingestLocations(d.actor, [{ lat: d.lat, lng: d.lng, recordedAt: d.at, heading: 90, speed: 8, accuracy: 5 }]);
    accepted.n += r.accepted;
    if (k % 16 === 15) await new Promise((r) => setImmediate(r)); // timers and I/O get their turns, as between requests
  }
}
async function run(n: number) {
  const acc = { n: 0 };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: C }, () => lane(Math.ceil(n / C), acc)));
  await new Promise((r) => setTimeout(r, 50));
  const c = process.cpuUsage(c0);
  return { us: (c.user + c.system) / acc.n, ms: performance.now() - t0, acc: acc.n };
}
await run(N / 4);
globalThis.gc?.();
const r = await run(N);
console.log(`in-process: ${r.us.toFixed(1)} µs CPU per accepted point (${r.acc} points, ${Math.round(r.ms)} ms)`);
await svc.close();
process.exit(0);
