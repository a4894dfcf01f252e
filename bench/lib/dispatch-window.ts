// One batched window at scale, timed on the service's own path: a fleet projection (rbush index) of
// `drivers` free drivers spread over a 10 × 10 km city, `requests` waiting rides, and planBatch
// (src/app/batch-window.ts: candidate search + ETA graph + exact assignment), exactly as a closing
// window runs it. Fresh positions and pickups per window; warm-up windows are not counted.
// Run alone (`node --import tsx bench/lib/dispatch-window.ts`) it prints the figures, for profiling:
//   node --import tsx --cpu-prof --cpu-prof-dir=bench/results/profiles bench/lib/dispatch-window.ts
import { pathToFileURL } from 'node:url';
import type { DriverEvent } from '../../domain/driver/index.ts';
import { defaultFairnessRules } from '../../domain/matching/dispatch.ts';
import { defaultMatchPolicy, type MatchPolicy } from '../../domain/matching/policy.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import type { LocationRecorded } from '../../domain/tracking/events.ts';
import { straightLineEta } from '../../domain/tracking/eta.ts';
import { makeFleet } from '../../projections/fleet/index.ts';
import { planBatch, type BatchRequest } from '../../src/app/batch-window.ts';
import { createRandom } from '../../src/simulator/random.ts';
import { stats } from './report.ts';

export interface WindowTiming {
  /** Wall and CPU time of each counted window, ms. */
  readonly wallMs: number[];
  readonly cpuMs: number[];
  readonly matchedAvg: number;
}

const M_LAT = 111_195;
const LAT0 = 38.7223;
const M_LNG = M_LAT * Math.cos((LAT0 * Math.PI) / 180);
const ll = (x: number, y: number) => ({ lat: LAT0 + y / M_LAT, lng: -9.1393 + x / M_LNG });

/** The bench's policy: the service's rings, 20 candidates per request (limit × 2 = 20). */
export const windowPolicy: MatchPolicy = { ...defaultMatchPolicy, limit: 10 };

export function timeWindows({ seed = 7, requests = 1_000, drivers = 5_000, windows = 20, warmup = 5 } = {}): WindowTiming {
  const random = createRandom(seed);
  const eta = straightLineEta();
  const fleet = makeFleet({ referenceLat: LAT0 });
  const now = 10_000_000;
  const meta = (key: string, version: number, i: number) => ({ eventId: `e${i}`, stream: 'drivers' as const, position: `${i}`, key, version, recordedAtMs: now });
  for (let i = 0; i < drivers; i++) {
    const driverId = `d${i}`;
    fleet.applyDriverEvent({ type: 'DriverAvailabilityChanged', data: { driverId, available: true, at: now - random.int(600_000) }, metadata: meta(driverId, 1, i) } as Recorded<DriverEvent>);
  }
  const wallMs: number[] = [];
  const cpuMs: number[] = [];
  let matched = 0;
  let seq = 0;
  for (let w = -warmup; w < windows; w++) {
    const at = now + (w + warmup + 1) * 2_000;
    for (let i = 0; i < drivers; i++) {
      const driverId = `d${i}`;
      const p = ll(random.between(0, 10_000), random.between(0, 10_000));
      const event = { type: 'LocationRecorded', data: { driverId, ...p, recordedAt: at - 500, heading: null, speed: null, accuracy: 5, rideId: null, late: false }, metadata: { ...meta(driverId, 0, seq), stream: 'driver-locations' as const, eventId: `l${seq++}` } };
      fleet.moveDriver(event as unknown as Recorded<LocationRecorded>, { ...p, heading: null, speed: null });
    }
    const batch: BatchRequest[] = Array.from({ length: requests }, (_, i) => ({
      rideId: `r${i}`,
      pickup: ll(random.between(0, 10_000), random.between(0, 10_000)),
      passedBy: [],
      windowsWaited: 0,
    }));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const matches = planBatch(fleet, batch, { policy: windowPolicy, eta, fairness: defaultFairnessRules, now: at });
    const wall = performance.now() - t0;
    const u = process.cpuUsage(c0);
    if (w < 0) continue;
    wallMs.push(wall);
    cpuMs.push((u.user + u.system) / 1000);
    matched += matches.length;
  }
  return { wallMs, cpuMs, matchedAvg: matched / windows };
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const t = timeWindows({ windows: Number(process.env.WINDOWS ?? 20) });
  const w = stats(t.wallMs);
  const c = stats(t.cpuMs);
  console.log(JSON.stringify({ wall: { p50: w.p50, p99: w.p99 }, cpu: { min: Math.min(...t.cpuMs), p50: c.p50, p99: c.p99 }, matchedAvg: t.matchedAvg }));
}
