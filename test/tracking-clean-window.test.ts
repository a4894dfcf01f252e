// The screening window without needless copies (issue 15): `screenPoints` and `observePoint` build
// the same windows as a plain copy-and-insert model, never change what they were given, and do
// not build a new fix when nothing changes.
import { describe, expect, it } from 'vitest';
import { insertionIndex } from '../domain/tracking/plausible.ts';
import { observePoint, RECENT_POINTS_KEPT, screenPoints, type DriverFix } from '../domain/tracking/clean.ts';
import type { GpsPoint, TrackPoint } from '../domain/tracking/point.ts';

const NOW = 1_700_000_000_000;
const at = (s: number, east = s * 10): GpsPoint => ({ lat: 48.8566, lng: 2.3522 + east / 73_000, recordedAt: NOW - 600_000 + s * 1000, heading: null, speed: null, accuracy: 8 });

/** The window as the straightforward model keeps it: copy, insert in device-time order, keep the newest RECENT_POINTS_KEPT. */
function modelWith(recent: readonly TrackPoint[], p: TrackPoint): TrackPoint[] {
  const next = [...recent];
  if (next[insertionIndex(next, p.recordedAt)]?.recordedAt === p.recordedAt) return next;
  next.splice(insertionIndex(next, p.recordedAt), 0, { lat: p.lat, lng: p.lng, recordedAt: p.recordedAt });
  return next.slice(-RECENT_POINTS_KEPT);
}

/** Deep-frozen, so any change to what screening was given throws. */
function frozen(fix: DriverFix): DriverFix {
  for (const p of fix.recent) Object.freeze(p);
  return Object.freeze({ latest: Object.freeze({ ...fix.latest }), recent: Object.freeze([...fix.recent]) as readonly TrackPoint[] });
}

describe('the screening window', () => {
  it('a drive past the window, one point per request and in batches, some resent: each window is the model\'s, and nothing given is changed', () => {
    let fix: DriverFix | null = null;
    let model: TrackPoint[] = [];
    for (let s = 0; s < RECENT_POINTS_KEPT + 100; s += 1 + (s % 3 === 0 ? 1 : 0)) {
      const batch = s % 5 === 0 ? [at(s + 1), at(s)] : [at(s)];
      if (s % 7 === 0 && s > 0) batch.push(at(s - 1)); // resent: a duplicate, or late if not seen yet
      const given = fix && frozen(fix);
      const r = screenPoints(given, batch, NOW);
      for (const p of r.accepted) model = modelWith(model, p);
      fix = r.latest;
      expect(fix!.recent).toEqual(model);
      if (s % 5 === 0) s++;
    }
    expect(fix!.recent).toHaveLength(RECENT_POINTS_KEPT);
  });

  it('a request that accepts nothing returns the fix it was given, window and all', () => {
    const fix = frozen(screenPoints(null, [at(0), at(1)], NOW).latest!);
    const r = screenPoints(fix, [at(1)], NOW); // a resend
    expect(r.rejected.map((x) => x.code)).toEqual(['DUPLICATE_POINT']);
    expect(r.latest).toBe(fix);
  });

  it('observing a point already known returns the fix it was given; a new one, older than a full window, leaves the window as it was', () => {
    let fix: DriverFix | null = null;
    for (let s = 1; s <= RECENT_POINTS_KEPT; s++) fix = observePoint(fix, at(s));
    const full = frozen(fix!);
    expect(observePoint(full, at(100))).toBe(full);
    const older = observePoint(full, at(0));
    expect(older.recent).toEqual(full.recent);
    expect(older.latest).toEqual(full.latest);
    const newer = observePoint(full, at(RECENT_POINTS_KEPT + 1));
    expect(newer.recent).toEqual(modelWith(full.recent, at(RECENT_POINTS_KEPT + 1)));
    expect(newer.latest.recordedAt).toBe(at(RECENT_POINTS_KEPT + 1).recordedAt);
  });
});
