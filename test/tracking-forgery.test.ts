import { describe, expect, it } from 'vitest';
import { screenPoints, type DriverFix } from '../domain/tracking/clean.ts';
import type { GpsPoint } from '../domain/tracking/point.ts';
import { trackDistanceMeters, type MeasuredPoint } from '../domain/tracking/track.ts';
import { createRandom } from '../src/simulator/random.ts';

/**
 * Forged tracks: a driver parked for two minutes who sends, besides their real fixes, points meant
 * to make the trip longer. Whatever they send, through screening and then the trip distance, the
 * trip comes out near 0 m. Each row is one attack, sent the way a client would send it (batches).
 */

const ORIGIN = { lat: 38.7223, lng: -9.1393 };
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const T0 = 1_800_000_000_000;
const TRIP_S = 120;
const NOW = T0 + TRIP_S * 1_000 + 500;

/** A point `east`/`north` metres from the origin at `second` of the trip. */
const pt = (east: number, north: number, second: number, extra: Partial<GpsPoint> = {}): GpsPoint => ({
  lat: ORIGIN.lat + north / M_PER_DEG,
  lng: ORIGIN.lng + east / (M_PER_DEG * Math.cos((ORIGIN.lat * Math.PI) / 180)),
  recordedAt: T0 + Math.round(second * 1_000),
  heading: null,
  speed: null,
  accuracy: 5,
  ...extra,
});

/** The simulator's seeded generator (mulberry32), so the jitter is the same on every run. */
const seeded = (seed: number) => createRandom(seed).next;

/** The real fixes of a parked car: every `every` seconds, ±3 m of jitter. */
function parked(every = 1, seed = 7): GpsPoint[] {
  const noise = seeded(seed);
  return Array.from({ length: Math.floor(TRIP_S / every) + 1 }, (_, i) => pt((noise() - 0.5) * 6, (noise() - 0.5) * 6, i * every));
}

const chunks = <T,>(xs: readonly T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));
const seconds = (from: number, to: number, step: number) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

/** Every batch screened in turn, as ingestion does; the accepted points in the order they were accepted. */
function ingest(batches: readonly (readonly GpsPoint[])[]): { track: MeasuredPoint[]; rejected: number } {
  let fix: DriverFix | null = null;
  const track: MeasuredPoint[] = [];
  let rejected = 0;
  for (const batch of batches) {
    const result = screenPoints(fix, batch, NOW);
    fix = result.latest;
    rejected += result.rejected.length;
    for (const p of result.accepted) track.push({ lat: p.lat, lng: p.lng, recordedAt: p.recordedAt, accuracy: p.accuracy, loggedAt: track.length });
  }
  return { track, rejected };
}

/** [name, the batches sent given the real fixes, whether the raw (unscreened) track also stays near 0]. */
type Attack = readonly [name: string, batches: (real: GpsPoint[]) => GpsPoint[][], rawToo: boolean];

const zigzag = (amplitude: number, times: readonly number[]) => times.map((s, i) => pt(i % 2 ? amplitude : -amplitude, 0, s));
const halfSeconds = seconds(0.5, TRIP_S - 1, 1);

const attacks: Attack[] = [
  ['late points zig-zagging 300 m apart between the real fixes', (real) => [...chunks(real, 100), ...chunks(zigzag(150, halfSeconds), 100)], true],
  ['late points zig-zagging 40 m apart between the real fixes', (real) => [...chunks(real, 100), ...chunks(zigzag(20, halfSeconds), 100)], true],
  ['a zig-zag batch sent first, the real fixes after', (real) => [...chunks(zigzag(150, halfSeconds), 100), ...chunks(real, 100)], true],
  ['zig-zag batches sorted backwards', (real) => [...chunks(real, 100), ...chunks(zigzag(150, halfSeconds).reverse(), 100)], true],
  // Raw, the forged points would outnumber the real ones 3 to 1: only screening's one-fix-per-500-ms keeps them out.
  ['late zig-zag at every quarter second', (real) => [...chunks(real, 100), ...chunks(zigzag(30, seconds(0.25, TRIP_S - 1, 0.25)), 100)], false],
  ['the same instants as the real fixes, 200 m away', (real) => [...chunks(real, 100), ...chunks(real.map((p, i) => ({ ...p, lng: p.lng + (i % 2 ? 1 : -1) * 0.0025 })), 100)], true],
  ['duplicates with other coordinates inside one batch', (real) => chunks(real.flatMap((p, i) => [p, { ...p, lat: p.lat + (i % 2 ? 1 : -1) * 0.002 }]), 100), true],
  ['teleports: live and late, 5 km away', (real) => [...chunks(real, 100), [pt(5_000, 0, 30.5), pt(-5_000, 0, 60.5), pt(5_000, 5_000, TRIP_S + 0.4)]], true],
  ['points exactly at the trip start and end, 300 m away', (real) => [...chunks(real, 100), [pt(300, 0, 0), pt(-300, 0, TRIP_S), pt(300, 0, TRIP_S + 0.5), pt(0, 300, -0.5)]], true],
];

describe('a parked driver who forges points', () => {
  it.each(attacks)('%s: the trip comes out near 0 m', (_name, batches) => {
    const { track } = ingest(batches(parked()));
    expect(trackDistanceMeters(track)).toBeLessThan(20);
  });

  it.each(attacks.filter(([, , raw]) => raw))('%s: even a track stored without screening comes out near 0 m', (_name, batches) => {
    const all = batches(parked()).flat().map((p, i) => ({ ...p, loggedAt: i }));
    expect(trackDistanceMeters(all)).toBeLessThan(20);
  });

  it('rejects the zig-zag between real fixes and says why', () => {
    const real = parked();
    const { rejected } = ingest([...chunks(real, 100)]);
    expect(rejected).toBe(0);
    let fix: DriverFix | null = null;
    for (const batch of chunks(real, 100)) fix = screenPoints(fix, batch, NOW).latest;
    const result = screenPoints(fix, [pt(150, 0, 10.7), pt(-150, 0, 20.7), pt(0, 150, 30)], NOW);
    expect(result.accepted).toEqual([]);
    expect(result.rejected.map((r) => r.code)).toEqual(['TOO_FREQUENT', 'TOO_FREQUENT', 'CONFLICTING_POINT']);
  });

  it('rejects a late point that leaves the road between two fixes seconds apart', () => {
    const fix = screenPoints(null, [pt(0, 0, 0), pt(0, 0, 10)], NOW).latest;
    const result = screenPoints(fix, [pt(200, 0, 5)], NOW);
    expect(result.rejected).toEqual([{ index: 0, code: 'IMPLAUSIBLE_TRACK', message: expect.stringContaining('off the road') }]);
    // A late point on the way is fine: the track may be filled in.
    expect(screenPoints(fix, [pt(0, 20, 5)], NOW).accepted).toHaveLength(1);
  });
});

describe('the trip distance is capped by what a car could drive', () => {
  it('never exceeds the top speed times the time between fixes, nor times the trip duration', () => {
    // A drive at 100 m/s with nothing to compare it against: each leg is capped at 70 m/s.
    const fast = Array.from({ length: 11 }, (_, s) => ({ ...pt(100 * s, 0, s), loggedAt: s }));
    expect(trackDistanceMeters(fast, { maxSpeedMps: 1_000 })).toBeCloseTo(1_000, -1);
    expect(trackDistanceMeters(fast, { maxSpeedMps: 1_000, maxDurationMs: 5_000 })).toBeLessThanOrEqual(5_000);
    expect(trackDistanceMeters(fast, { maxSpeedMps: 1_000, maxDurationMs: 3_000 })).toBeLessThanOrEqual(3_000);
    expect(trackDistanceMeters(fast, { maxSpeedMps: 1_000 })).toBeLessThanOrEqual(1_000 + 1);
    expect(trackDistanceMeters(fast, { maxSpeedMps: 50 })).toBeLessThanOrEqual(50 * 10);
  });

  it('still measures a real drive with a late backlog filled in', () => {
    const drive = Array.from({ length: 61 }, (_, s) => pt(10 * s, 0, s));
    const live = drive.filter((_, s) => s % 10 === 0);
    const backlog = drive.filter((_, s) => s % 10 !== 0).reverse();
    const { track, rejected } = ingest([live, ...chunks(backlog, 20)]);
    expect(rejected).toBe(0);
    expect(trackDistanceMeters(track)).toBeGreaterThan(580);
    expect(trackDistanceMeters(track)).toBeLessThanOrEqual(601);
  });
});
