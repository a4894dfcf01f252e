import { describe, expect, it } from 'vitest';
import { defaultTrackingRules, observePoint, RECENT_POINTS_KEPT, screenPoints, type DriverFix, recentOf } from '../../domain/tracking/clean.ts';
import type { GpsPoint } from '../../domain/tracking/point.ts';

/**
 * What a driver's app is told about each GPS point it sends (accepted, or refused with a code), and
 * where the operator's map then shows the driver.
 */
const ORIGIN = { lat: 38.7223, lng: -9.1393 };
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const NOW = 1_800_000_000_000;
const pt = (east: number, msAgo: number, extra: Partial<GpsPoint> = {}): GpsPoint => ({
  lat: ORIGIN.lat,
  lng: ORIGIN.lng + east / (M_PER_DEG * Math.cos((ORIGIN.lat * Math.PI) / 180)),
  recordedAt: NOW - msAgo,
  heading: null,
  speed: null,
  accuracy: 8,
  ...extra,
});
const codes = (r: ReturnType<typeof screenPoints>) => r.rejected.map(({ index, code }) => [index, code]);

describe('screening: points refused on their own', () => {
  it.each([
    ['a latitude past the pole', { lat: 90.5 }],
    ['a longitude past the antimeridian', { lng: -181 }],
    ['no usable latitude', { lat: Number.NaN }],
    ['no usable time', { recordedAt: Number.NaN }],
    ['an infinite time', { recordedAt: Number.POSITIVE_INFINITY }],
  ])('%s is INVALID_POINT', (_what, bad) => {
    const r = screenPoints(null, [pt(0, 1_000, bad)], NOW);
    expect(codes(r)).toEqual([[0, 'INVALID_POINT']]);
    expect(r.rejected[0]!.message).toBe('lat, lng or recordedAt is out of range');
    expect(r.latest).toBeNull();
  });

  it('a point 30 s ahead of server time is accepted; 1 ms more is FUTURE_POINT, and says by how much', () => {
    expect(screenPoints(null, [pt(0, -30_000)], NOW).accepted).toHaveLength(1);
    const r = screenPoints(null, [pt(0, -30_001)], NOW);
    expect(codes(r)).toEqual([[0, 'FUTURE_POINT']]);
    expect(r.rejected[0]!.message).toBe('recordedAt is 30001 ms ahead of server time');
  });

  it('a point 10 minutes old is accepted; 1 ms older is STALE_POINT, and says how old', () => {
    expect(screenPoints(null, [pt(0, 600_000)], NOW).accepted).toHaveLength(1);
    const r = screenPoints(null, [pt(0, 600_001)], NOW);
    expect(codes(r)).toEqual([[0, 'STALE_POINT']]);
    expect(r.rejected[0]!.message).toBe('recordedAt is 600001 ms old (max 600000)');
  });

  it('a 100 m fix is accepted; a worse one is LOW_ACCURACY, and says why', () => {
    expect(screenPoints(null, [pt(0, 1_000, { accuracy: 100 })], NOW).accepted).toHaveLength(1);
    const r = screenPoints(null, [pt(0, 1_000, { accuracy: 100.5 })], NOW);
    expect(codes(r)).toEqual([[0, 'LOW_ACCURACY']]);
    expect(r.rejected[0]!.message).toBe('accuracy 100.5 m is worse than 100 m');
  });

  it('the limits are settings', () => {
    const strict = { maxFutureSkewMs: 1_000, maxAgeMs: 5_000, maxAccuracyM: 10 };
    expect(codes(screenPoints(null, [pt(0, -1_001), pt(0, 5_001), pt(0, 2_000, { accuracy: 11 })], NOW, strict))).toEqual([
      [0, 'FUTURE_POINT'],
      [1, 'STALE_POINT'],
      [2, 'LOW_ACCURACY'],
    ]);
    expect(defaultTrackingRules).toMatchObject({ maxFutureSkewMs: 30_000, maxAgeMs: 600_000, maxAccuracyM: 100 });
  });
});

describe('screening: a batch', () => {
  it('refusals are reported by the point’s position in the batch as sent, in that order', () => {
    // Sent newest first: the bad points are at batch positions 0 and 2, which are last in device time.
    const batch = [pt(0, 1_000, { accuracy: 500 }), pt(20, 2_000), pt(0, 0, { lat: 95 }), pt(0, 4_000)];
    const r = screenPoints(null, batch, NOW);
    expect(codes(r)).toEqual([
      [0, 'LOW_ACCURACY'],
      [2, 'INVALID_POINT'],
    ]);
    expect(r.accepted.map((p) => p.recordedAt)).toEqual([NOW - 4_000, NOW - 2_000]);
  });

  it('points at the same device time are judged in the order sent: the first is kept, the copy is the duplicate', () => {
    const r = screenPoints(null, [pt(0, 1_000), pt(0, 1_000)], NOW);
    expect(codes(r)).toEqual([[1, 'DUPLICATE_POINT']]);
    const conflict = screenPoints(null, [pt(0, 1_000), pt(5, 1_000)], NOW);
    expect(codes(conflict)).toEqual([[1, 'CONFLICTING_POINT']]);
    expect(conflict.accepted[0]!.lng).toBe(pt(0, 1_000).lng);
  });

  it('a batch with nothing accepted leaves the driver where they were', () => {
    const before = screenPoints(null, [pt(0, 5_000)], NOW).latest!;
    const r = screenPoints(before, [pt(0, 1_000, { accuracy: 900 })], NOW);
    expect(r.latest).toBe(before);
    expect(screenPoints(null, [], NOW).latest).toBeNull();
  });

  it('the driver is at the newest accepted point, and every accepted point carries whether it came late', () => {
    const before = screenPoints(null, [pt(0, 10_000), pt(100, 0)], NOW).latest!;
    const r = screenPoints(before, [pt(50, 5_000), pt(110, -1_000)], NOW);
    expect(r.accepted.map((p) => [p.recordedAt - NOW, p.late])).toEqual([
      [-5_000, true],
      [1_000, false],
    ]);
    expect(r.latest!.latest.recordedAt).toBe(NOW + 1_000);
    expect(recentOf(r.latest!).map((p) => p.recordedAt - NOW)).toEqual([-10_000, -5_000, 0, 1_000]);
  });

  it('a late point alone does not move the driver back, but is remembered', () => {
    const before = screenPoints(null, [pt(0, 10_000), pt(100, 0)], NOW).latest!;
    const r = screenPoints(before, [pt(50, 5_000)], NOW);
    expect(r.accepted[0]!.late).toBe(true);
    expect(r.latest!.latest).toEqual(before.latest);
    expect(recentOf(r.latest!)).toHaveLength(3);
    // The same late point sent again is a duplicate now.
    expect(codes(screenPoints(r.latest, [pt(50, 5_000)], NOW))).toEqual([[0, 'DUPLICATE_POINT']]);
  });

  it('the first point of a driver is not late', () => {
    expect(screenPoints(null, [pt(0, 1_000)], NOW).accepted[0]!.late).toBe(false);
  });

  it('what is remembered is where and when only', () => {
    const r = screenPoints(null, [pt(0, 1_000, { heading: 90, speed: 3, accuracy: 4 })], NOW);
    expect(recentOf(r.latest!)).toEqual([{ lat: ORIGIN.lat, lng: pt(0, 0).lng, recordedAt: NOW - 1_000 }]);
    expect(r.latest!.latest).toMatchObject({ heading: 90, speed: 3, accuracy: 4 });
  });
});

describe('screening: the memory of a long drive', () => {
  /** A driver who has sent RECENT_POINTS_KEPT fixes, one a second, ending a second ago. */
  function longDrive(): DriverFix {
    const n = RECENT_POINTS_KEPT;
    return screenPoints(null, Array.from({ length: n }, (_, i) => pt(i * 10, (n - i) * 1_000)), NOW).latest!;
  }

  it('keeps the last 256 fixes', () => {
    const fix = longDrive();
    expect(RECENT_POINTS_KEPT).toBe(256);
    expect(recentOf(fix)).toHaveLength(256);
    const more = screenPoints(fix, [pt(2_570, 0)], NOW).latest!;
    expect(recentOf(more)).toHaveLength(256);
    expect(recentOf(more)[0]!.recordedAt).toBe(NOW - 255_000);
    expect(recentOf(more).at(-1)!.recordedAt).toBe(NOW);
  });

  it('a late point older than all 256 remembered fixes cannot be checked, so it is STALE_POINT', () => {
    const fix = longDrive();
    const r = screenPoints(fix, [pt(-10, 257_000)], NOW);
    expect(codes(r)).toEqual([[0, 'STALE_POINT']]);
    expect(r.rejected[0]!.message).toBe('recordedAt is older than the last 256 fixes it could be checked against');
  });

  it('while the memory is not full, an older point can still join the track', () => {
    const fix = screenPoints(null, [pt(0, 100_000), pt(100, 90_000)], NOW).latest!;
    expect(screenPoints(fix, [pt(-50, 105_000)], NOW).accepted).toHaveLength(1);
  });
});

describe('observing a point another instance accepted', () => {
  it('the first one becomes the driver’s position', () => {
    const p = pt(0, 1_000);
    const fix = observePoint(null, p);
    expect(fix.latest).toEqual(p);
    expect(recentOf(fix)).toEqual([{ lat: p.lat, lng: p.lng, recordedAt: p.recordedAt }]);
  });

  it('a newer one moves the driver; an older one joins the track without moving them', () => {
    const a = pt(0, 10_000);
    const b = pt(100, 0);
    const c = pt(50, 5_000);
    const fix = observePoint(observePoint(observePoint(null, a), b), c);
    expect(fix.latest).toBe(b);
    expect(recentOf(fix).map((p) => p.recordedAt)).toEqual([a.recordedAt, c.recordedAt, b.recordedAt]);
  });

  it('a point already known changes nothing, and the screening then refuses it as a duplicate', () => {
    const a = pt(0, 10_000);
    const once = observePoint(null, a);
    const twice = observePoint(once, a);
    expect(twice).toEqual(once);
    expect(codes(screenPoints(twice, [a], NOW))).toEqual([[0, 'DUPLICATE_POINT']]);
  });

  it('a point at the same time as the position keeps the position', () => {
    const a = pt(0, 1_000);
    expect(observePoint(observePoint(null, a), { ...a, heading: 10 }).latest).toBe(a);
  });
});
