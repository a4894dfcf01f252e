// The service's event loop while it dispatches at surge: one in-process service (memory transport,
// as startService wires it) with MATCHING=nearest or batched; `drivers` drivers online sending a fix
// every `fixEveryMs` (ingestion keeps running), riders requesting `ratePerS` rides a second for
// `durationS` (more requests than drivers by the end: surge); drivers never answer, so offers hold
// drivers until they expire. The event-loop delay (perf_hooks monitorEventLoopDelay, 1 ms
// resolution) is read over the request phase only, and every ingest call's latency is recorded.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Actor } from '../../domain/actor.ts';
import { createRandom } from '../../src/simulator/random.ts';
import { startService } from '../../test/support/service.ts';
import { stats } from './report.ts';

export interface LiveDispatchOptions {
  readonly matching: 'nearest' | 'batched';
  readonly drivers: number;
  readonly ratePerS: number;
  readonly durationS: number;
  readonly fixEveryMs: number;
  readonly seed: number;
}

export interface LiveDispatchResult {
  readonly eldMs: { p50: number; p99: number; max: number };
  /** From calling locations.ingest to its answer, ms: does a window hold ingestion up? */
  readonly ingestMs: { p50: number; p99: number; max: number };
  readonly requests: number;
  readonly offers: number;
  readonly fixes: number;
}

const LAT0 = 38.7223;
const M_LNG = 111_195 * Math.cos((LAT0 * Math.PI) / 180);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function liveDispatch(o: LiveDispatchOptions): Promise<LiveDispatchResult> {
  const random = createRandom(o.seed);
  const where = () => ({ lat: LAT0 + random.between(0, 10_000) / 111_195, lng: -9.1393 + random.between(0, 10_000) / M_LNG });
  const svc = await startService({}, { trackingRules: { minIntervalMs: 0 } }, {
    MATCHING: o.matching,
    BATCH_WINDOW_MS: '2000',
    OFFER_TIMEOUT_MS: '15000',
    MATCH_TIMEOUT_MS: '120000',
    RATE_LIMIT_PER_MINUTE: '1000000000',
    LOCATION_POINTS_PER_SECOND: '1000000000',
    LOCATION_POINTS_BURST: '1000000000',
  });
  try {
    const { ridecast, ctx } = svc;
    const drivers = Array.from({ length: o.drivers }, (_, i) => ({ actor: { userId: `d_live${i}`, role: 'driver' } as Actor, at: 0, ...where() }));
    const fix = (d: (typeof drivers)[number]) => {
      d.at = Math.max(Date.now(), d.at + 1);
      d.lat += random.between(-20, 20) / 111_195;
      d.lng += random.between(-20, 20) / M_LNG;
      return ridecast.locations.ingest(d.actor, [{ lat: d.lat, lng: d.lng, recordedAt: d.at, heading: null, speed: null, accuracy: 5 }]);
    };
    for (let i = 0; i < drivers.length; i += 100) {
      await Promise.all(drivers.slice(i, i + 100).map(async (d) => {
        await ridecast.drivers.setAvailability(d.actor, true);
        await fix(d);
      }));
    }
    const deadline = Date.now() + 60_000;
    while (ctx.fleet.indexedCount() < o.drivers) {
      if (Date.now() > deadline) throw new Error(`fleet indexed ${ctx.fleet.indexedCount()} of ${o.drivers} drivers in 60 s`);
      await sleep(50);
    }
    const offers0 = (await ctx.metrics.offersMade.get()).values[0]?.value ?? 0;
    const eld = monitorEventLoopDelay({ resolution: 1 });
    const ingest: number[] = [];
    let requests = 0;
    let fixes = 0;
    let failures = 0;
    eld.enable();
    const start = performance.now();
    let nextDriver = 0;
    let fixesDue = 0;
    let requestsDue = 0;
    // Every 10 ms: the fixes and requests due by now, spread evenly (bounded: the phase ends on time).
    while (performance.now() - start < o.durationS * 1000) {
      const elapsed = performance.now() - start;
      const fixTarget = Math.floor((elapsed / o.fixEveryMs) * o.drivers);
      for (; fixesDue < fixTarget; fixesDue++) {
        const d = drivers[nextDriver++ % drivers.length]!;
        const t0 = performance.now();
        fixes++;
        fix(d).then(() => ingest.push(performance.now() - t0), () => failures++);
      }
      const requestTarget = Math.floor((elapsed / 1000) * o.ratePerS);
      for (; requestsDue < requestTarget; requestsDue++) {
        const rider: Actor = { userId: `u_live${requestsDue}`, role: 'rider' };
        const pickup = where();
        requests++;
        ridecast.rides.request(rider, { pickup, dropoff: { lat: pickup.lat + 0.01, lng: pickup.lng + 0.01 } }).catch(() => failures++);
      }
      await sleep(10);
    }
    eld.disable();
    const offers = ((await ctx.metrics.offersMade.get()).values[0]?.value ?? 0) - offers0;
    if (failures > requests / 10) throw new Error(`${failures} calls failed`);
    const ms = (ns: number) => Math.round((ns / 1e6) * 10) / 10;
    const ing = stats(ingest);
    return {
      eldMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) },
      ingestMs: { p50: ing.p50, p99: ing.p99, max: ing.max },
      requests,
      offers,
      fixes,
    };
  } finally {
    await svc.close();
  }
}
