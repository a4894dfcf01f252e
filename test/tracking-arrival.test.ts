import { describe, expect, it } from 'vitest';
import type { LatLng } from '../domain/geo.ts';
import { detectArrival, type ArrivalState } from '../domain/tracking/arrival.ts';

const PICKUP = { lat: 48.8566, lng: 2.3522 };
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const T0 = 1_700_000_000_000;
const south = (meters: number): LatLng => ({ lat: PICKUP.lat - meters / M_PER_DEG, lng: PICKUP.lng });

/** Feeds [metres from pickup, second] fixes in order; returns the seconds at which `arrived` was true. */
function arrivals(fixes: readonly (readonly [number, number])[], start: ArrivalState | null = null) {
  let state = start;
  const at: number[] = [];
  for (const [meters, second] of fixes) {
    const decision = detectArrival(state, { ...south(meters), recordedAt: T0 + second * 1_000 }, PICKUP);
    state = decision.state;
    if (decision.arrived) at.push(second);
  }
  return { at, state };
}

describe('arrival at pickup', () => {
  it('given a driver who pulls up and waits, then arrival fires once, 20 s after entering 50 m', () => {
    const approach = [[300, 0], [200, 10], [100, 20], [40, 30]] as const;
    const waiting = Array.from({ length: 12 }, (_, i) => [10 + (i % 3), 35 + 5 * i] as const);
    const { at, state } = arrivals([...approach, ...waiting]);
    expect(at).toEqual([50]);
    expect(state?.arrived).toBe(true);
  });

  it('given a driver who drives past the pickup, then no arrival', () => {
    expect(arrivals([[120, 0], [45, 5], [5, 10], [45, 15], [120, 20], [300, 40]]).at).toEqual([]);
  });

  it('given a driver who leaves the radius, then the dwell starts again on return', () => {
    const { at } = arrivals([[30, 0], [30, 15], [200, 20], [30, 30], [30, 45], [30, 50]]);
    expect(at).toEqual([50]);
  });

  it('given jitter a few metres past the radius edge, then the wait is not restarted', () => {
    expect(arrivals([[45, 0], [58, 8], [49, 14], [60, 20]]).at).toEqual([20]);
  });

  it('given a late fix from before the stop, then it cannot undo the wait', () => {
    expect(arrivals([[30, 10], [30, 20], [500, 5], [30, 30]]).at).toEqual([30]);
  });

  it('given other rules, then they replace the defaults', () => {
    let state: ArrivalState | null = null;
    const seen: boolean[] = [];
    for (const [meters, second] of [[90, 0], [90, 5], [90, 6]] as const) {
      const d = detectArrival(state, { ...south(meters), recordedAt: T0 + second * 1_000 }, PICKUP, { radiusM: 100, dwellMs: 5_000 });
      state = d.state;
      seen.push(d.arrived);
    }
    expect(seen).toEqual([false, true, false]);
  });
});
