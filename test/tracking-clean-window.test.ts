// The screening window without needless copies (issue 15): `screenPoints` and `observePoint` build
// the same windows as a plain copy-and-insert model, never change what a fix they were given reads
// (a fix's window is a range of an array later fixes append to, session 6), and do not build a new
// fix when nothing changes.
import { describe, expect, it } from 'vitest';
import { insertionIndex } from '../domain/tracking/plausible.ts';
import { observePoint, RECENT_POINTS_KEPT, recentOf, screenPoints, type DriverFix } from '../domain/tracking/clean.ts';
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

/** Fixes handed to screening, with what each read then: none of them may read anything else later. */
const given: { fix: DriverFix; recent: TrackPoint[]; latest: GpsPoint }[] = [];

/** Frozen (the fix and its points: changing them throws), and remembered with what it reads now. */
function frozen(fix: DriverFix): DriverFix {
  for (const p of recentOf(fix)) Object.freeze(p);
  Object.freeze(fix.latest);
  given.push({ fix: Object.freeze(fix), recent: structuredClone(recentOf(fix)), latest: { ...fix.latest } });
  return fix;
}

/** Every fix screening was given still reads what it read then. */
function unchanged(): void {
  for (const g of given) {
    expect(recentOf(g.fix)).toEqual(g.recent);
    expect(g.fix.latest).toEqual(g.latest);
  }
}

describe('the screening window', () => {
  it('a drive past the window, one point per request and in batches, some resent: each window is the model\'s, and nothing given is changed', () => {
    let fix: DriverFix | null = null;
    let model: TrackPoint[] = [];
    for (let s = 0; s < RECENT_POINTS_KEPT + 100; s += 1 + (s % 3 === 0 ? 1 : 0)) {
      const batch = s % 5 === 0 ? [at(s + 1), at(s)] : [at(s)];
      if (s % 7 === 0 && s > 0) batch.push(at(s - 1)); // resent: a duplicate, or late if not seen yet
      const before = fix && frozen(fix);
      const r = screenPoints(before, batch, NOW);
      for (const p of r.accepted) model = modelWith(model, p);
      fix = r.latest;
      expect(recentOf(fix!)).toEqual(model);
      // Every so often the same fix is screened twice (a shared window's retry, two requests of one
      // driver at once): the second finds its array's end taken by the first and must not see its points.
      if (before && s % 11 === 0) {
        const again = screenPoints(before, [at(s + 0.5)], NOW);
        expect(again.accepted).toHaveLength(1);
        expect(recentOf(again.latest!)).toEqual(modelWith(recentOf(before), at(s + 0.5)));
        expect(recentOf(fix!)).toEqual(model);
      }
      if (s % 5 === 0) s++;
    }
    expect(recentOf(fix!)).toHaveLength(RECENT_POINTS_KEPT);
    unchanged();
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
    expect(recentOf(older)).toEqual(recentOf(full));
    expect(older.latest).toEqual(full.latest);
    const newer = observePoint(full, at(RECENT_POINTS_KEPT + 1));
    expect(recentOf(newer)).toEqual(modelWith(recentOf(full), at(RECENT_POINTS_KEPT + 1)));
    expect(newer.latest.recordedAt).toBe(at(RECENT_POINTS_KEPT + 1).recordedAt);
    unchanged();
  });
});
