import { describe, expect, it } from 'vitest';
import { distanceMeters } from '../domain/geo.ts';
import { RECENT_POINTS_KEPT, screenPoints, type DriverFix, recentOf } from '../domain/tracking/clean.ts';
import type { GpsPoint } from '../domain/tracking/point.ts';

const ORIGIN = { lat: 48.8566, lng: 2.3522 };
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const NOW = 1_700_000_000_000;
const SECOND = 1_000;

/** A point `east`/`north` metres from the origin, recorded `secondsAgo` before NOW. */
const pt = (east: number, north: number, secondsAgo: number, extra: Partial<GpsPoint> = {}): GpsPoint => ({
  lat: ORIGIN.lat + north / M_PER_DEG,
  lng: ORIGIN.lng + east / (M_PER_DEG * Math.cos((ORIGIN.lat * Math.PI) / 180)),
  recordedAt: NOW - secondsAgo * SECOND,
  heading: null,
  speed: null,
  accuracy: 8,
  ...extra,
});

/** Driving east at 10 m/s: the point of second `s` of the drive, which ended `endsAgo` seconds before NOW. */
const drive = (s: number, endsAgo = 0, totalS = 60) => pt(10 * s, 0, endsAgo + totalS - s);

const fixAt = (p: GpsPoint): DriverFix => screenPoints(null, [p], NOW).latest!;
const codes = (r: ReturnType<typeof screenPoints>) => r.rejected.map(({ index, code }) => ({ index, code }));

describe('screening driver GPS', () => {
  it('given no fix, when an in-order batch arrives, then all are accepted and the newest is the position', () => {
    const batch = [drive(0), drive(1), drive(2)];
    const result = screenPoints(null, batch, NOW);
    expect(result.accepted).toEqual(batch.map((p) => ({ ...p, late: false })));
    expect(result.rejected).toEqual([]);
    expect(result.latest?.latest).toEqual(drive(2));
  });

  it('given an out-of-order batch, then it is accepted in device-time order and the newest point wins', () => {
    const result = screenPoints(null, [drive(2), drive(0), drive(3), drive(1)], NOW);
    expect(result.accepted.map((p) => p.recordedAt)).toEqual([0, 1, 2, 3].map((s) => drive(s).recordedAt));
    expect(result.accepted.every((p) => !p.late)).toBe(true);
    expect(result.latest?.latest).toEqual(drive(3));
  });

  it('given a batch already received, when it is sent again, then every point is a DUPLICATE_POINT and nothing moves', () => {
    const first = screenPoints(null, [drive(0), drive(1)], NOW);
    const again = screenPoints(first.latest, [drive(1), drive(0)], NOW);
    expect(again.accepted).toEqual([]);
    expect(codes(again)).toEqual([
      { index: 0, code: 'DUPLICATE_POINT' },
      { index: 1, code: 'DUPLICATE_POINT' },
    ]);
    expect(again.latest).toBe(first.latest);
  });

  it('given the same point twice in one batch, then the second copy is a DUPLICATE_POINT', () => {
    const result = screenPoints(null, [drive(0), drive(1), drive(0)], NOW);
    expect(result.accepted).toHaveLength(2);
    expect(codes(result)).toEqual([{ index: 2, code: 'DUPLICATE_POINT' }]);
  });

  it('given a device clock ahead, then up to 30 s of skew is tolerated and beyond it the point is a FUTURE_POINT', () => {
    const result = screenPoints(null, [pt(0, 0, -20), pt(5, 0, -31)], NOW);
    expect(result.accepted.map((p) => p.recordedAt)).toEqual([NOW + 20 * SECOND]);
    expect(result.rejected).toEqual([{ index: 1, code: 'FUTURE_POINT', message: 'recordedAt is 31000 ms ahead of server time' }]);
  });

  it('given a point older than 10 minutes, then it is a STALE_POINT', () => {
    const result = screenPoints(null, [pt(0, 0, 11 * 60), pt(0, 0, 9 * 60)], NOW);
    expect(codes(result)).toEqual([{ index: 0, code: 'STALE_POINT' }]);
    expect(result.latest?.latest.recordedAt).toBe(NOW - 9 * 60 * SECOND);
  });

  it('given a fix worse than 100 m, then it is LOW_ACCURACY, while a point without accuracy is kept', () => {
    const result = screenPoints(null, [pt(0, 0, 3, { accuracy: 150 }), pt(0, 0, 2, { accuracy: null })], NOW);
    expect(codes(result)).toEqual([{ index: 0, code: 'LOW_ACCURACY' }]);
    expect(result.accepted).toHaveLength(1);
  });

  it('given a driver at a fix, when a point jumps a kilometre in 2 s, then it is IMPOSSIBLE_SPEED and the driver stays put', () => {
    const previous = fixAt(drive(10));
    const jump = pt(100 + 1_000, 0, 48);
    const result = screenPoints(previous, [jump, drive(13)], NOW);
    expect(codes(result)).toEqual([{ index: 0, code: 'IMPOSSIBLE_SPEED' }]);
    expect(result.latest?.latest).toEqual(drive(13));
  });

  it('given a wrong fix, when real points keep coming, then they pass again once the distance became drivable', () => {
    const wrong = fixAt(pt(3_000, 0, 100));
    const soon = screenPoints(wrong, [pt(0, 0, 90)], NOW);
    const later = screenPoints(wrong, [pt(0, 0, 40)], NOW);
    expect(codes(soon)).toEqual([{ index: 0, code: 'IMPOSSIBLE_SPEED' }]);
    expect(later.rejected).toEqual([]);
    expect(later.latest?.latest).toEqual(pt(0, 0, 40));
  });

  it('given a driver at a fix, when an older point arrives late, then it joins the track marked late and does not move the driver back', () => {
    const previous = fixAt(drive(30));
    const result = screenPoints(previous, [drive(20), drive(31)], NOW);
    expect(result.accepted.map((p) => ({ at: p.recordedAt, late: p.late }))).toEqual([
      { at: drive(20).recordedAt, late: true },
      { at: drive(31).recordedAt, late: false },
    ]);
    expect(result.latest?.latest).toEqual(drive(31));
    const onlyLate = screenPoints(previous, [drive(25)], NOW);
    expect(onlyLate.accepted[0]?.late).toBe(true);
    expect(onlyLate.latest?.latest).toEqual(drive(30));
  });

  it('given a long drive, then the memory of seen points stays bounded and still catches a recent resend', () => {
    let fix: DriverFix | null = null;
    for (let s = 0; s < 300; s += 50) {
      const batch = Array.from({ length: 50 }, (_, i) => pt(2 * (s + i), 0, 400 - s - i));
      fix = screenPoints(fix, batch, NOW).latest;
    }
    expect(recentOf(fix!)).toHaveLength(RECENT_POINTS_KEPT);
    const resend = screenPoints(fix, [pt(2 * 299, 0, 400 - 299)], NOW);
    expect(codes(resend)).toEqual([{ index: 0, code: 'DUPLICATE_POINT' }]);
  });

  it('given a recorded-looking dirty drive in batches, then only the real drive survives, in order, and the driver ends at its end', () => {
    const dirty: GpsPoint[][] = [
      [drive(2), drive(0), drive(1), drive(1)],
      [drive(3), pt(5_000, 0, 56), drive(5), drive(4, 0), pt(40, 0, -120)],
      [drive(6), drive(3), drive(7, 0, 60), pt(70, 0, 20 * 60)],
      [drive(8, 0), drive(4)],
    ];
    let fix: DriverFix | null = null;
    const track: GpsPoint[] = [];
    const rejected: string[] = [];
    for (const batch of dirty) {
      const result = screenPoints(fix, batch, NOW);
      fix = result.latest;
      track.push(...result.accepted);
      rejected.push(...result.rejected.map((r) => r.code));
    }
    expect(track.map((p) => distanceMeters(ORIGIN, p))).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80].map((m) => expect.closeTo(m, 3)));
    expect(rejected.sort()).toEqual(['DUPLICATE_POINT', 'DUPLICATE_POINT', 'DUPLICATE_POINT', 'FUTURE_POINT', 'IMPOSSIBLE_SPEED', 'STALE_POINT']);
    expect(fix?.latest).toEqual(drive(8));
  });
});
