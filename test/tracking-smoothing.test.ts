import { describe, expect, it } from 'vitest';
import { distanceMeters, pathLengthMeters, type LatLng } from '../domain/geo.ts';
import { smooth, type SmoothedFix, type SmoothingState } from '../domain/tracking/kalman.ts';
import type { GpsPoint } from '../domain/tracking/point.ts';
import { createRandom } from '../src/simulator/random.ts';

const ORIGIN = { lat: 48.8566, lng: 2.3522 };
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const at = (east: number, north: number): LatLng => ({
  lat: ORIGIN.lat + north / M_PER_DEG,
  lng: ORIGIN.lng + east / (M_PER_DEG * Math.cos((ORIGIN.lat * Math.PI) / 180)),
});
const reading = (where: LatLng, second: number, accuracy = 10): GpsPoint => ({
  ...where,
  recordedAt: 1_700_000_000_000 + second * 1_000,
  heading: null,
  speed: null,
  accuracy,
});

/** The simulator's seeded generator (mulberry32), so the "recorded" jitter is the same on every run. */
const seeded = (seed: number) => createRandom(seed).next;

function run(points: readonly GpsPoint[]): SmoothedFix[] {
  let state: SmoothingState | null = null;
  return points.map((p) => {
    const out = smooth(state, p);
    state = out.state;
    return out;
  });
}

/** Smallest angle between two headings, degrees. */
const turnBetween = (a: number | null, b: number) => (a === null ? Infinity : Math.abs(((a - b + 540) % 360) - 180));
const rms = (truth: LatLng, xs: readonly LatLng[]) => Math.sqrt(xs.reduce((a, p) => a + distanceMeters(truth, p) ** 2, 0) / xs.length);

describe('smoothing a driver position', () => {
  it('given a parked car whose fixes jitter ±8 m, then the smoothed position wanders far less than the raw one', () => {
    const noise = seeded(7);
    const raw = Array.from({ length: 120 }, (_, s) => reading(at((noise() - 0.5) * 16, (noise() - 0.5) * 16), s));
    const smoothed = run(raw).slice(20);
    const settledRaw = raw.slice(20);
    expect(pathLengthMeters(smoothed)).toBeLessThan(pathLengthMeters(settledRaw) / 3);
    expect(rms(ORIGIN, smoothed)).toBeLessThan(rms(ORIGIN, settledRaw) * 0.7);
    expect(smoothed.at(-1)!.speedMps).toBeLessThan(1);
  });

  it('given a steady drive east at 12 m/s with ±4 m noise, then it is tracked closely with its speed and heading', () => {
    const noise = seeded(11);
    const truth = (s: number) => at(12 * s, 0);
    const raw = Array.from({ length: 60 }, (_, s) => reading(at(12 * s + (noise() - 0.5) * 8, (noise() - 0.5) * 8), s, 5));
    const smoothed = run(raw);
    const errors = smoothed.slice(10).map((p, i) => distanceMeters(truth(i + 10), p));
    expect(Math.max(...errors)).toBeLessThan(4);
    expect(errors.reduce((a, b) => a + b) / errors.length).toBeLessThan(2.5);
    expect(smoothed.at(-1)!.speedMps).toBeCloseTo(12, 0);
    expect(turnBetween(smoothed.at(-1)!.heading, 90)).toBeLessThan(5);
  });

  it('given a drive that turns north, then within 10 s the estimate is back on the road heading north', () => {
    const truth = (s: number) => (s <= 20 ? at(12 * s, 0) : at(240, 12 * (s - 20)));
    const smoothed = run(Array.from({ length: 40 }, (_, s) => reading(truth(s), s, 5)));
    expect(distanceMeters(truth(30), smoothed[30]!)).toBeLessThan(2);
    expect(turnBetween(smoothed[30]!.heading, 0)).toBeLessThan(5);
  });

  it('given two fixes with the same time, then they are fused halfway (dt = 0 is not a division by zero)', () => {
    const first = smooth(null, reading(at(0, 0), 0));
    const second = smooth(first.state, reading(at(10, 0), 0));
    expect(distanceMeters(second, at(5, 0))).toBeLessThan(0.5);
    expect(Number.isFinite(second.speedMps)).toBe(true);
  });

  it('given a fix older than the estimate, then the estimate is left as it was', () => {
    const now = run([reading(at(0, 0), 0), reading(at(12, 0), 1), reading(at(24, 0), 2)]).at(-1)!;
    const late = smooth(now.state, reading(at(500, 0), 1));
    expect(late.state).toBe(now.state);
    expect({ lat: late.lat, lng: late.lng }).toEqual({ lat: now.lat, lng: now.lng });
  });

  it('given a five-minute gap, then the filter restarts at the new fix instead of dragging the old position along', () => {
    const before = run([reading(at(0, 0), 0), reading(at(12, 0), 1)]).at(-1)!;
    const after = smooth(before.state, reading(at(2_000, 0), 301));
    expect(distanceMeters(after, at(2_000, 0))).toBeLessThan(0.01);
    expect(after.speedMps).toBe(0);
  });

  it('given a first fix that carries speed and heading, then the estimate starts moving that way', () => {
    const first = smooth(null, { ...reading(at(0, 0), 0), speed: 12, heading: 90 });
    expect(first.speedMps).toBeCloseTo(12, 6);
    expect(first.heading).toBeCloseTo(90, 6);
  });
});
