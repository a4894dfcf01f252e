import { distanceMeters } from '../geo.ts';
import type { TrackPoint } from './point.ts';

/**
 * The one rule for "could a car have been here then": a point is judged against its neighbours in
 * device time (the accepted points just before and just after it), never against the order in
 * which it arrived. Ingestion (clean.ts) and the trip distance (track.ts) both use it, so a track
 * judged live and the same track judged again at completion agree.
 */
export interface PlausibilityRules {
  /** Faster than this between two fixes is a GPS jump, not a car. */
  readonly maxSpeedMps: number;
  /** Two fixes closer than this in device time: the later one is not a new reading of the road. */
  readonly minIntervalMs: number;
  /** How far GPS noise alone may put a fix off the line between its neighbours, metres. */
  readonly jitterM: number;
  /** The hardest a car speeds up, brakes or turns, m/s²: how far the road may bend between two fixes. */
  readonly maxAccelerationMps2: number;
}

export const defaultPlausibilityRules: PlausibilityRules = {
  maxSpeedMps: 70,
  minIntervalMs: 500,
  jitterM: 20,
  maxAccelerationMps2: 4,
};

export type ImplausibleCode = 'DUPLICATE_POINT' | 'CONFLICTING_POINT' | 'TOO_FREQUENT' | 'IMPOSSIBLE_SPEED' | 'IMPLAUSIBLE_TRACK';

export interface Implausible {
  readonly code: ImplausibleCode;
  readonly message: string;
}

/** Below this gap the implied speed is dominated by jitter, so the gap is counted as one second. */
const MIN_SPEED_GAP_MS = 1_000;

/** Index of the first point of `track[lo, hi)` (sorted by device time) not older than `t` (`hi` when none). */
export function insertionIndex(track: readonly TrackPoint[], t: number, lo = 0, hi = track.length): number {
  // The common cases first, one read each instead of eight scattered ones through a 256-point
  // window: a fix newer than every one held goes at the end; the newest one read back is the last.
  if (hi > lo) {
    const last = track[hi - 1]!.recordedAt;
    if (last < t) return hi;
    if (last === t && (hi - 1 === lo || track[hi - 2]!.recordedAt < t)) return hi - 1;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (track[mid]!.recordedAt < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function speedProblem(a: TrackPoint, b: TrackPoint, r: PlausibilityRules, which: string): Implausible | null {
  const gapMs = Math.max(Math.abs(b.recordedAt - a.recordedAt), MIN_SPEED_GAP_MS);
  const speed = distanceMeters(a, b) / (gapMs / 1000);
  if (speed <= r.maxSpeedMps) return null;
  return { code: 'IMPOSSIBLE_SPEED', message: `implies ${Math.round(speed)} m/s from the ${which} fix (max ${r.maxSpeedMps})` };
}

/**
 * Judges `p` against the track accepted so far (sorted by device time, one point per instant).
 * - one reading per instant: the same point again is a duplicate, another place at the same time a conflict;
 * - fixes closer than `minIntervalMs` in device time are not new readings (nothing to squeeze in between);
 * - the car must be able to drive from the point before and to the point after at `maxSpeedMps`;
 * - between two neighbours, the point must lie near where a car bending at most `maxAccelerationMps2`
 *   could be: off the straight interpolation by no more than jitter + a·t₁·t₂/2 (the largest gap a
 *   path with bounded acceleration opens from its chord). A zig-zag squeezed between honest fixes fails this.
 */
export function judgeAgainstNeighbours(track: readonly TrackPoint[], p: TrackPoint, r: PlausibilityRules, from = 0, to = track.length): Implausible | null {
  // The track is track[from, to): screening's window is a range of an array it shares (clean.ts).
  const i = insertionIndex(track, p.recordedAt, from, to);
  const at = i < to ? track[i] : undefined;
  if (at && at.recordedAt === p.recordedAt) {
    return at.lat === p.lat && at.lng === p.lng
      ? { code: 'DUPLICATE_POINT', message: `point at ${p.recordedAt} was already received` }
      : { code: 'CONFLICTING_POINT', message: `another position was already received for ${p.recordedAt}` };
  }
  const prev = i > from ? track[i - 1]! : null;
  const next = at ?? null;
  if ((prev && p.recordedAt - prev.recordedAt < r.minIntervalMs) || (next && next.recordedAt - p.recordedAt < r.minIntervalMs))
    return { code: 'TOO_FREQUENT', message: `another fix was received less than ${r.minIntervalMs} ms of device time away` };
  const speed = (prev && speedProblem(prev, p, r, 'previous')) || (next && speedProblem(p, next, r, 'next'));
  if (speed) return speed;
  if (prev && next) {
    const t1 = (p.recordedAt - prev.recordedAt) / 1000;
    const t2 = (next.recordedAt - p.recordedAt) / 1000;
    const f = t1 / (t1 + t2);
    const expected = { lat: prev.lat + (next.lat - prev.lat) * f, lng: prev.lng + (next.lng - prev.lng) * f };
    const off = distanceMeters(expected, p);
    const allowed = r.jitterM + (r.maxAccelerationMps2 * t1 * t2) / 2;
    if (off > allowed)
      return { code: 'IMPLAUSIBLE_TRACK', message: `${Math.round(off)} m off the road between its neighbours (at most ${Math.round(allowed)} m)` };
  }
  return null;
}
