import { describe, expect, it } from 'vitest';
import { distanceMeters, METERS_PER_DEGREE, type LatLng } from '../../domain/geo.ts';
import { detectArrival, type ArrivalState } from '../../domain/tracking/arrival.ts';
import { straightLineEta } from '../../domain/tracking/eta.ts';
import { defaultPlausibilityRules, insertionIndex, judgeAgainstNeighbours } from '../../domain/tracking/plausible.ts';
import { pointKey, type TrackPoint } from '../../domain/tracking/point.ts';
import { zoneTransition } from '../../domain/tracking/zones.ts';

const PICKUP: LatLng = { lat: 48.8566, lng: 2.3522 };
const south = (m: number): LatLng => ({ lat: PICKUP.lat - m / METERS_PER_DEGREE, lng: PICKUP.lng });
const at = (m: number, t: number): TrackPoint => ({ ...south(m), recordedAt: t });

describe('ETA at its edges (what a rider’s countdown shows)', () => {
  const from = south(500);
  const d = distanceMeters(from, PICKUP);

  it('a driver exactly at the arrival distance is there; a hair further is not', () => {
    expect(straightLineEta({ arrivedWithinM: d }).estimateSeconds(from, PICKUP, { speedMps: 10 })).toBe(0);
    expect(straightLineEta({ arrivedWithinM: d - 0.01 }).estimateSeconds(from, PICKUP, { speedMps: 10 })).toBe(65);
  });

  it('an unreadable position never yields NaN: it reads as “there”', () => {
    expect(straightLineEta().estimateSeconds({ lat: NaN, lng: 0 }, PICKUP, { speedMps: 10 })).toBe(0);
  });

  it('a speed that is not a number counts as the floor, not as infinitely fast or slow', () => {
    const eta = straightLineEta();
    const floor = eta.estimateSeconds(from, PICKUP, { speedMps: null });
    expect(eta.estimateSeconds(from, PICKUP, { speedMps: NaN })).toBe(floor);
    expect(eta.estimateSeconds(from, PICKUP, { speedMps: Infinity })).toBe(floor);
    expect(eta.estimateSeconds(from, PICKUP, { speedMps: -Infinity })).toBe(floor);
    expect(floor).toBe(Math.round((d * 1.3) / 4));
  });

  it('speeds between the floor and the cap are used as they are', () => {
    expect(straightLineEta().estimateSeconds(from, PICKUP, { speedMps: 13 })).toBe(Math.round((d * 1.3) / 13));
  });

  it('only the options given replace the defaults', () => {
    expect(straightLineEta({ detourFactor: 1 }).estimateSeconds(from, PICKUP, { speedMps: 100 })).toBe(Math.round(d / 17));
    expect(straightLineEta({ maxSpeedMps: 50 }).estimateSeconds(from, PICKUP, { speedMps: 1 })).toBe(Math.round((d * 1.3) / 4));
  });
});

describe('arrival at its edges (when the rider is told “your driver is here”)', () => {
  const run = (fixes: TrackPoint[], rules = {}) => {
    let state: ArrivalState | null = null;
    const fired: number[] = [];
    for (const f of fixes) {
      const r = detectArrival(state, f, PICKUP, rules);
      state = r.state;
      if (r.arrived) fired.push(f.recordedAt);
    }
    return { state, fired };
  };

  it('a first fix already inside starts the wait; exactly the dwell later it fires', () => {
    expect(run([at(10, 0), at(10, 19_999), at(10, 20_000), at(10, 25_000)]).fired).toEqual([20_000]);
  });

  it('exactly on the radius is inside', () => {
    const r = detectArrival(null, at(0, 0), south(50), { radiusM: distanceMeters(south(0), south(50)) });
    expect(r.state.insideSince).toBe(0);
  });

  it('a driver seen only outside is not waiting, and their newest time is remembered', () => {
    const r = detectArrival(null, at(400, 7), PICKUP);
    expect(r).toEqual({ state: { insideSince: null, lastAt: 7, arrived: false }, arrived: false });
  });

  it('inside the exit margin keeps the wait only for a driver already inside', () => {
    // 60 m: outside 50 m, inside 50 + 15.
    expect(run([at(60, 0), at(60, 25_000), at(60, 50_000)]).fired).toEqual([]);
    expect(run([at(10, 0), at(60, 10_000), at(60, 20_000)]).fired).toEqual([20_000]);
    expect(run([at(10, 0), at(70, 10_000), at(10, 20_000), at(10, 40_000)]).fired).toEqual([40_000]);
  });

  it('the exit margin’s outer edge still counts as inside', () => {
    const d = distanceMeters(south(0), south(30));
    const rules = { radiusM: 0, exitMarginM: d, dwellMs: 20_000 };
    expect(run([{ ...PICKUP, recordedAt: 0 }, at(30, 10_000), at(30, 20_000)], rules).fired).toEqual([20_000]);
  });

  it('a fix at the same device time as the newest is still judged', () => {
    expect(run([at(10, 0), at(10, 20_000), at(10, 20_000)]).fired).toEqual([20_000]);
    expect(run([at(400, 0), at(10, 0), at(10, 20_000)]).fired).toEqual([20_000]);
  });

  it('once arrived, the state says so and nothing changes it', () => {
    const { state } = run([at(10, 0), at(10, 20_000)]);
    expect(state).toEqual({ insideSince: 0, lastAt: 20_000, arrived: true });
    const again = detectArrival(state, at(500, 30_000), PICKUP);
    expect(again).toEqual({ state, arrived: false });
  });
});

describe('plausibility at its edges (which GPS points are refused)', () => {
  const r = defaultPlausibilityRules;
  const track = [at(0, 0), at(100, 10_000)];

  it('finds where a point goes in device time', () => {
    expect(insertionIndex(track, -1)).toBe(0);
    expect(insertionIndex(track, 0)).toBe(0);
    expect(insertionIndex(track, 5_000)).toBe(1);
    expect(insertionIndex(track, 10_000)).toBe(1);
    expect(insertionIndex(track, 10_001)).toBe(2);
    expect(insertionIndex([], 5)).toBe(0);
    const many = Array.from({ length: 9 }, (_, i) => at(0, i * 1000));
    for (let i = 0; i < 9; i++) expect(insertionIndex(many, i * 1000)).toBe(i);
    for (let i = 0; i < 9; i++) expect(insertionIndex(many, i * 1000 + 1)).toBe(i + 1);
  });

  it('the minimum interval is allowed exactly, on both sides', () => {
    expect(judgeAgainstNeighbours([at(0, 0)], at(1, 500), r)).toBeNull();
    expect(judgeAgainstNeighbours([at(0, 0)], at(1, 499), r)?.code).toBe('TOO_FREQUENT');
    expect(judgeAgainstNeighbours([at(0, 1_000)], at(1, 500), r)).toBeNull();
    expect(judgeAgainstNeighbours([at(0, 1_000)], at(1, 501), r)?.code).toBe('TOO_FREQUENT');
    expect(judgeAgainstNeighbours([at(0, 1_000)], at(1, 501), r)?.message).toBe('another fix was received less than 500 ms of device time away');
  });

  it('the speed limit is allowed exactly; a short gap counts as one second', () => {
    const d = 70; // metres in 1 s at exactly 70 m/s
    const rules = { ...r, maxSpeedMps: distanceMeters(south(0), south(d)) };
    expect(judgeAgainstNeighbours([at(0, 0)], at(d, 1_000), rules)).toBeNull();
    expect(judgeAgainstNeighbours([at(0, 0)], at(d, 600), rules)).toBeNull(); // 600 ms counts as 1 s
    expect(judgeAgainstNeighbours([at(0, 0)], at(d + 1, 1_000), rules)?.code).toBe('IMPOSSIBLE_SPEED');
    const behind = judgeAgainstNeighbours([at(0, 0)], at(2_000, 10_000), r);
    expect(behind).toEqual({ code: 'IMPOSSIBLE_SPEED', message: 'implies 200 m/s from the previous fix (max 70)' });
    const ahead = judgeAgainstNeighbours([at(2_000, 10_000)], at(0, 0), r);
    expect(ahead).toEqual({ code: 'IMPOSSIBLE_SPEED', message: 'implies 200 m/s from the next fix (max 70)' });
  });

  it('a point off the line between neighbours is allowed jitter plus bending, exactly', () => {
    // neighbours 0 m at 0 s and 200 m at 20 s; midpoint expected at 100 m, t1 = t2 = 10 s: 20 + 4·10·10/2 = 220 m.
    const nb = [at(0, 0), at(200, 20_000)];
    const sideways = (m: number): TrackPoint => ({ lat: south(100).lat, lng: PICKUP.lng + m / (METERS_PER_DEGREE * Math.cos((south(100).lat * Math.PI) / 180)), recordedAt: 10_000 });
    expect(judgeAgainstNeighbours(nb, sideways(219), r)).toBeNull();
    const far = judgeAgainstNeighbours(nb, sideways(300), r);
    expect(far).toEqual({ code: 'IMPLAUSIBLE_TRACK', message: '300 m off the road between its neighbours (at most 220 m)' });
  });

  it('the expected place is interpolated by time, not halfway', () => {
    // neighbours 0 m at 0 s and 1000 m at 100 s; a point at 10 s is expected at 100 m, allowed 20 + 2·10·90 = 1820 m.
    const nb = [at(0, 0), at(1_000, 100_000)];
    expect(judgeAgainstNeighbours(nb, at(100, 10_000), r)).toBeNull();
    const tight = { ...r, maxAccelerationMps2: 0, jitterM: 30 };
    expect(judgeAgainstNeighbours(nb, at(120, 10_000), tight)).toBeNull();
    expect(judgeAgainstNeighbours(nb, at(140, 10_000), tight)?.code).toBe('IMPLAUSIBLE_TRACK');
    expect(judgeAgainstNeighbours(nb, at(60, 10_000), tight)?.code).toBe('IMPLAUSIBLE_TRACK');
  });

  it('one reading per instant: the same point is a duplicate, another place a conflict', () => {
    expect(judgeAgainstNeighbours(track, at(100, 10_000), r)).toEqual({ code: 'DUPLICATE_POINT', message: 'point at 10000 was already received' });
    expect(judgeAgainstNeighbours(track, { ...at(100, 10_000), lng: 0 }, r)?.code).toBe('CONFLICTING_POINT');
    expect(judgeAgainstNeighbours(track, { ...at(100, 10_000), lat: 0 }, r)).toEqual({
      code: 'CONFLICTING_POINT',
      message: 'another position was already received for 10000',
    });
  });
});

describe('a reading’s identity and zone crossings', () => {
  it('a resent point has the same key; any other time or place does not', () => {
    const p = { lat: 1.5, lng: -2.25, recordedAt: 42 };
    expect(pointKey(p)).toBe('42|1.5|-2.25');
    expect(pointKey({ ...p, lat: 1.25 })).not.toBe(pointKey(p));
  });

  it('reports entered and exited zones and all the zones now, in the map’s order', () => {
    expect(zoneTransition(['airport', 'downtown'], ['downtown', 'surge'])).toEqual({ entered: ['surge'], exited: ['airport'], now: ['downtown', 'surge'] });
    expect(zoneTransition([], [])).toEqual({ entered: [], exited: [], now: [] });
  });
});
