import { describe, expect, it } from 'vitest';
import { distanceMeters, type LatLng } from '../../domain/geo.ts';
import { defaultSmoothingOptions, smooth, type SmoothedFix, type SmoothingOptions, type SmoothingState } from '../../domain/tracking/kalman.ts';
import type { GpsPoint } from '../../domain/tracking/point.ts';

/**
 * What a rider's map shows of a driver, fix by fix: how far a fix moves the marker (by its accuracy),
 * which way the car points, how fast it goes, and when the old estimate is dropped.
 */
const ORIGIN = { lat: 38.7223, lng: -9.1393 };
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const at = (east: number, north: number): LatLng => ({
  lat: ORIGIN.lat + north / M_PER_DEG,
  lng: ORIGIN.lng + east / (M_PER_DEG * Math.cos((ORIGIN.lat * Math.PI) / 180)),
});
const T0 = 1_800_000_000_000;
const fix = (where: LatLng, second: number, more: Partial<GpsPoint> = {}): GpsPoint => ({
  ...where,
  recordedAt: T0 + second * 1_000,
  heading: null,
  speed: null,
  accuracy: 10,
  ...more,
});

function run(points: readonly GpsPoint[], options: Partial<SmoothingOptions> = {}): SmoothedFix[] {
  let state: SmoothingState | null = null;
  return points.map((p) => {
    const out = smooth(state, p, options);
    state = out.state;
    return out;
  });
}

/** A car driving at `speed` m/s along (east, north) unit direction, one exact fix a second. */
const drive = (dirEast: number, dirNorth: number, speed: number, seconds: number, more: Partial<GpsPoint> = {}) =>
  Array.from({ length: seconds }, (_, s) => fix(at(dirEast * speed * s, dirNorth * speed * s), s, more));

/** How far the marker moves towards a fix 20 m east of a parked car, given that fix's accuracy. */
function pull(accuracy: number | null, options: Partial<SmoothingOptions> = {}): number {
  const parked = run(Array.from({ length: 5 }, (_, s) => fix(ORIGIN, s)), options).at(-1)!;
  const moved = smooth(parked.state, fix(at(20, 0), 5, { accuracy }), options);
  return distanceMeters(parked, moved);
}

describe('smoothing: how far one fix moves the marker', () => {
  it('a precise fix moves the marker further than a vague one', () => {
    expect(pull(2)).toBeGreaterThan(pull(10) + 2);
    expect(pull(10)).toBeGreaterThan(pull(50) + 2);
    expect(pull(2)).toBeGreaterThan(10);
    expect(pull(50)).toBeLessThan(5);
  });

  it('a fix without an accuracy, or with a meaningless one (0 or less), counts as the default 10 m', () => {
    expect(pull(null)).toBeCloseTo(pull(10), 9);
    expect(pull(0)).toBeCloseTo(pull(10), 9);
    expect(pull(-3)).toBeCloseTo(pull(10), 9);
    expect(pull(null, { defaultAccuracyM: 2 })).toBeCloseTo(pull(2), 9);
    expect(defaultSmoothingOptions.defaultAccuracyM).toBe(10);
  });

  it('the first fix is shown where it is, whatever its accuracy', () => {
    const first = smooth(null, fix(at(3, 4), 0, { accuracy: 80 }));
    expect(distanceMeters(first, at(3, 4))).toBeLessThan(1e-6);
    expect(first.state.at).toBe(T0);
  });

  it('a car allowed to accelerate harder follows a jump more readily (less damping)', () => {
    expect(pull(10, { accelerationMps2: 5 })).toBeGreaterThan(pull(10, { accelerationMps2: 0.2 }) + 2);
  });
});

describe('smoothing: heading and speed', () => {
  it.each([
    ['north', 0, 1, 0],
    ['east', 1, 0, 90],
    ['south', 0, -1, 180],
    ['west', -1, 0, 270],
    ['north-east', Math.SQRT1_2, Math.SQRT1_2, 45],
    ['north-west', -Math.SQRT1_2, Math.SQRT1_2, 315],
  ])('a car driving %s at 10 m/s shows that heading and its speed', (_dir, e, n, heading) => {
    const last = run(drive(e, n, 10, 20)).at(-1)!;
    expect(last.speedMps).toBeCloseTo(10, 1);
    expect(last.heading).toBeCloseTo(heading, 0);
    expect(last.heading!).toBeGreaterThanOrEqual(0);
    expect(last.heading!).toBeLessThan(360);
  });

  it('a car moving slower than 1 m/s shows the device’s own heading (or none), not the jitter’s', () => {
    const creeping = run(drive(1, 0, 0.5, 20, { heading: 200 })).at(-1)!;
    expect(creeping.speedMps).toBeLessThan(1);
    expect(creeping.heading).toBe(200);
    const creepingBlind = run(drive(1, 0, 0.5, 20)).at(-1)!;
    expect(creepingBlind.heading).toBeNull();
  });

  it('at exactly the moving speed the heading comes from the movement', () => {
    const first = smooth(null, fix(ORIGIN, 0, { speed: 1, heading: 90 }));
    expect(first.speedMps).toBeCloseTo(1, 9);
    expect(first.heading).toBeCloseTo(90, 6);
  });

  it('the moving speed is a setting: at 5 m/s a car doing 3 m/s shows the device heading', () => {
    const slow = run(drive(0, 1, 3, 20, { heading: 123 }), { movingSpeedMps: 5 }).at(-1)!;
    expect(slow.speedMps).toBeCloseTo(3, 0);
    expect(slow.heading).toBe(123);
    const moving = run(drive(0, 1, 3, 20, { heading: 123 })).at(-1)!;
    expect(moving.heading).toBeCloseTo(0, 0);
  });
});

describe('smoothing: the first fix of a drive', () => {
  it('speed without a heading, or a heading without speed, says nothing about the velocity', () => {
    const noHeading = smooth(null, fix(ORIGIN, 0, { speed: 12 }));
    expect(noHeading.speedMps).toBe(0);
    expect(noHeading.heading).toBeNull();
    const noSpeed = smooth(null, fix(ORIGIN, 0, { heading: 45 }));
    expect(noSpeed.speedMps).toBe(0);
    expect(noSpeed.heading).toBe(45);
  });

  it('a first fix that reports no motion learns the speed from the next fixes quickly', () => {
    const learned = run(drive(1, 0, 10, 4)).at(-1)!;
    expect(learned.speedMps).toBeGreaterThan(8);
  });

  it('a reported speed and heading are trusted: one fix that disagrees does not stop the car on the map', () => {
    // First fix says 10 m/s east; the next, one second later, sits where the first was (a GPS hiccup).
    const trusted = smooth(smooth(null, fix(ORIGIN, 0, { speed: 10, heading: 90 })).state, fix(ORIGIN, 1));
    const unknown = smooth(smooth(null, fix(ORIGIN, 0)).state, fix(ORIGIN, 1));
    expect(trusted.speedMps).toBeGreaterThan(5);
    expect(unknown.speedMps).toBeLessThan(1e-9);
    expect(distanceMeters(trusted, ORIGIN)).toBeGreaterThan(2);
  });
});

describe('smoothing: time', () => {
  it('a gap of up to a minute keeps the estimate (the car drives on); a longer one restarts at the new fix', () => {
    const moving = run(drive(1, 0, 10, 10)).at(-1)!;
    // 60 s later, the car is where it would be at 10 m/s: the filter still knows its speed.
    const afterMinute = smooth(moving.state, { ...fix(at(690, 0), 0), recordedAt: moving.state.at + 60_000 });
    expect(afterMinute.speedMps).toBeCloseTo(10, 0);
    const afterMore = smooth(moving.state, { ...fix(at(690, 0), 0), recordedAt: moving.state.at + 60_001 });
    expect(distanceMeters(afterMore, at(690, 0))).toBeLessThan(1e-6);
    expect(afterMore.speedMps).toBe(0);
  });

  it('the restart gap is a setting', () => {
    const moving = run(drive(1, 0, 10, 10)).at(-1)!;
    const far = at(500, 0);
    const restarted = smooth(moving.state, { ...fix(far, 0), recordedAt: moving.state.at + 5_001 }, { resetAfterMs: 5_000 });
    expect(distanceMeters(restarted, far)).toBeLessThan(1e-6);
  });

  it('a late fix changes nothing, and its device heading is not shown', () => {
    const stopped = run(Array.from({ length: 5 }, (_, s) => fix(ORIGIN, s))).at(-1)!;
    const late = smooth(stopped.state, fix(at(30, 0), 2, { heading: 90 }));
    expect(late.state).toEqual(stopped.state);
    expect(late.heading).toBeNull();
  });

  it('the estimate keeps the newest fix’s time', () => {
    const out = run(drive(1, 0, 10, 3));
    expect(out.map((o) => o.state.at)).toEqual([T0, T0 + 1_000, T0 + 2_000]);
  });

  it('a fix at the same time as the estimate is fused, and a later one at the same place slows the car down', () => {
    const moving = run(drive(1, 0, 10, 10)).at(-1)!;
    const same = smooth(moving.state, { ...fix(at(100, 0), 0), recordedAt: moving.state.at });
    expect(same.state.at).toBe(moving.state.at);
    expect(distanceMeters(same, moving)).toBeGreaterThan(0.5);
    const stopped = run(Array.from({ length: 10 }, (_, s) => fix(at(90, 0), s + 10)), {}).at(-1)!;
    expect(stopped.speedMps).toBeLessThan(0.5);
  });
});
