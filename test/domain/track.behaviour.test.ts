import { describe, expect, it } from 'vitest';
import type { LatLng } from '../../domain/geo.ts';
import { cleanTrack, plausibleTrack, trackDistanceMeters, type MeasuredPoint } from '../../domain/tracking/track.ts';

/**
 * What a rider is charged for (the trip distance) and what the playback shows (the clean track),
 * from the fixes a driver's device sent.
 */
const ORIGIN = { lat: 38.7223, lng: -9.1393 };
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const T0 = 1_800_000_000_000;
const at = (east: number, north = 0): LatLng => ({
  lat: ORIGIN.lat + north / M_PER_DEG,
  lng: ORIGIN.lng + east / (M_PER_DEG * Math.cos((ORIGIN.lat * Math.PI) / 180)),
});
const fix = (east: number, ms: number, accuracy: number | null = 5, north = 0): MeasuredPoint => ({ ...at(east, north), recordedAt: T0 + ms, accuracy });
/** A straight drive east: a fix every `everyMs`, `stepM` metres apart, `n` fixes. */
const drive = (n: number, stepM: number, everyMs: number, accuracy: number | null = 5) =>
  Array.from({ length: n }, (_, i) => fix(i * stepM, i * everyMs, accuracy));

describe('trip distance: accuracy circles', () => {
  it('a precise drive counts every leg: 10 legs of 20 m are 200 m', () => {
    expect(trackDistanceMeters(drive(11, 20, 2_000))).toBeCloseTo(200, 0);
  });

  it('with 15 m fixes a leg counts only once the car has left both circles (30 m): the last 20 m do not count', () => {
    // Counted at 40 m and 80 m; the final fix at 100 m is only 20 m past the last counted one.
    expect(trackDistanceMeters(drive(6, 20, 2_000, 15))).toBeCloseTo(80, 0);
  });

  it('a device that claims better accuracy than 5 m is measured with 5 m circles', () => {
    // 6 m legs: inside 5 m + 5 m, so only every other fix counts; the last one (60 m) is counted.
    const claimed = trackDistanceMeters(drive(11, 6, 1_000, 1));
    expect(claimed).toBeCloseTo(trackDistanceMeters(drive(11, 6, 1_000, 5)), 6);
    expect(claimed).toBeCloseTo(trackDistanceMeters(drive(11, 6, 1_000, null)), 6);
    expect(claimed).toBeCloseTo(60, 0);
    // Told to assume 1 m circles, a 6 m leg counts on its own: the same 60 m, counted leg by leg.
    expect(trackDistanceMeters(drive(10, 6, 1_000, 1), { defaultAccuracyM: 1 })).toBeCloseTo(54, 0);
    expect(trackDistanceMeters(drive(10, 6, 1_000, 1))).toBeCloseTo(48, 0);
  });

  it('a parked precise device jittering 2.8 m adds nothing: a leg under 3 m never counts', () => {
    const jitter = Array.from({ length: 10 }, (_, i) => fix(i % 2 ? 2.8 : 0, i * 1_000, 0.5));
    expect(trackDistanceMeters(jitter, { defaultAccuracyM: 0.5 })).toBe(0);
    expect(trackDistanceMeters(jitter, { defaultAccuracyM: 0.5, minLegM: 1 })).toBeGreaterThan(2);
  });

  it('poor fixes hold the anchor back by at most 50 m, so a drive is not undercounted by their circles', () => {
    // 60 m circles would need 120 m between counted fixes; the cap makes it 50 m, so every other 40 m leg counts.
    const poor = drive(11, 40, 4_000, 60);
    expect(trackDistanceMeters(poor)).toBeCloseTo(400, 0);
    expect(trackDistanceMeters(poor, { maxLegM: 1_000 })).toBeCloseTo(320, 0);
  });

  it('a fix that jumps out and the next one back is a spike, not a drive', () => {
    // Out 15 m (past the 10 m of two 5 m circles) and straight back: plausible, but not a drive.
    const spike = [fix(0, 0), fix(15, 2_000), fix(2, 4_000), fix(0, 6_000)];
    expect(plausibleTrack(spike)).toHaveLength(4);
    expect(trackDistanceMeters(spike)).toBe(0);
  });

  it('a fix whose next one stays out is a drive, however close to the circle that next one is', () => {
    // Circles of 5 + 5 m: the next fix 11 m from the anchor is outside, so the 40 m leg counts.
    expect(trackDistanceMeters([fix(0, 0), fix(40, 2_000), fix(11, 4_000)])).toBeGreaterThan(39);
  });
});

describe('trip distance: what a car could drive', () => {
  it('a leg counts no more than the top speed allows in its time', () => {
    // 60 m in half a second passes the screening's 1 s floor, but 70 m/s × 0.5 s is 35 m.
    expect(trackDistanceMeters([fix(0, 0), fix(60, 500)])).toBeCloseTo(35, 6);
    expect(trackDistanceMeters([fix(0, 0), fix(60, 500)], { maxSpeedMps: 100 })).toBeCloseTo(50, 6);
  });

  it('the whole trip counts no more than the top speed over the trip’s duration, when it is known', () => {
    const d = drive(11, 20, 2_000);
    expect(trackDistanceMeters(d, { maxDurationMs: 2_000 })).toBeCloseTo(140, 6);
    expect(trackDistanceMeters(d, { maxDurationMs: -5 })).toBe(0);
    expect(trackDistanceMeters(d, { maxDurationMs: 3_600_000 })).toBeCloseTo(200, 0);
  });

  it('a jump no car could make is left out, and the drive around it still counts', () => {
    const withJump = [fix(0, 0), fix(20, 2_000), fix(5_000, 3_000), fix(40, 4_000), fix(60, 6_000)];
    expect(trackDistanceMeters(withJump)).toBeCloseTo(60, 0);
  });

  it('fixes closer than the minimum interval (500 ms) are one reading: only one of them is kept', () => {
    const chain = plausibleTrack([fix(0, 0), fix(1, 200), fix(20, 2_000)]);
    expect(chain).toHaveLength(2);
    expect(chain[1]!.recordedAt).toBe(T0 + 2_000);
    expect(plausibleTrack([fix(0, 0), fix(1, 500), fix(20, 2_000)])).toHaveLength(3);
  });
});

describe('the plausible track', () => {
  it('is empty for no fixes, the fix itself for one, and drops fixes without a usable time', () => {
    expect(plausibleTrack([])).toEqual([]);
    const one = fix(0, 0);
    expect(plausibleTrack([one])).toEqual([one]);
    expect(plausibleTrack([one, { ...fix(10, 0), recordedAt: Number.NaN }])).toEqual([one]);
    expect(trackDistanceMeters([one, { ...fix(100, 0), recordedAt: Number.NaN }])).toBe(0);
  });

  it('is in device-time order whatever order the fixes came in', () => {
    const d = drive(6, 20, 2_000);
    const shuffled = [d[3]!, d[0]!, d[5]!, d[1]!, d[4]!, d[2]!];
    expect(plausibleTrack(shuffled)).toEqual(d);
  });

  it('keeps the first fix alone when no two fixes could both be true', () => {
    const far = [fix(0, 0), fix(10_000, 1_000), fix(20_000, 2_000)];
    expect(plausibleTrack(far)).toEqual([far[0]]);
    expect(trackDistanceMeters(far)).toBe(0);
  });

  it('keeps the most fixes that agree, even when the forger’s come first', () => {
    const real = drive(8, 20, 2_000);
    // A forged drive north, sent first, interleaved in time with the real one.
    const forged = Array.from({ length: 4 }, (_, i) => fix(0, 1_000 + i * 2_000, 5, 300 + i * 20));
    expect(plausibleTrack([...forged, ...real])).toEqual(real);
  });

  it('skips over up to 15 forged fixes squeezed between two real ones', () => {
    // No two forged fixes could both be true (each a kilometre a second from the others).
    const real = [fix(0, 0), fix(20, 2_000), fix(40, 20_000), fix(60, 22_000)];
    const squeezed = Array.from({ length: 15 }, (_, i) => fix(5_000 + i * 1_000, 3_000 + i * 1_000, 5, 500));
    expect(plausibleTrack([...real.slice(0, 2), ...squeezed, ...real.slice(2)])).toEqual(real);
  });

  it('follows a chain whose links are more than one fix apart (a zig-zag between honest fixes is left out)', () => {
    const real = drive(6, 20, 2_000);
    const zigzag = [1, 3, 5, 7, 9].map((s, i) => fix(20 * (s / 2), s * 1_000, 5, i % 2 ? 60 : -60));
    const chain = plausibleTrack([...real, ...zigzag]);
    expect(chain).toEqual(real);
  });
});

describe('the playback track', () => {
  it('carries where and when only, in device-time order, exact resends dropped', () => {
    const p = { ...fix(0, 1_000, 7), loggedAt: 3, heading: 90 } as MeasuredPoint;
    const q = fix(10, 0, 4);
    expect(cleanTrack([p, q, p])).toEqual([
      { lat: q.lat, lng: q.lng, recordedAt: q.recordedAt },
      { lat: p.lat, lng: p.lng, recordedAt: p.recordedAt },
    ]);
  });
});
