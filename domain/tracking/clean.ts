import { isLatLng } from '../geo.ts';
import { defaultPlausibilityRules, insertionIndex, judgeAgainstNeighbours, type Implausible, type ImplausibleCode, type PlausibilityRules } from './plausible.ts';
import type { GpsPoint, TrackPoint } from './point.ts';

/** Ingestion limits for driver GPS; the neighbour rule's own limits are in plausible.ts. */
export interface TrackingRules extends PlausibilityRules {
  /** A device clock may run ahead of ours by this much before a point counts as from the future. */
  readonly maxFutureSkewMs: number;
  /** Points older than this (against server time) are too old to say anything about now. */
  readonly maxAgeMs: number;
  /** Fixes with a worse accuracy radius are noise, not position. */
  readonly maxAccuracyM: number;
}

export const defaultTrackingRules: TrackingRules = {
  ...defaultPlausibilityRules,
  maxFutureSkewMs: 30_000,
  maxAgeMs: 10 * 60_000,
  maxAccuracyM: 100,
};

export type RejectionCode = 'INVALID_POINT' | 'FUTURE_POINT' | 'STALE_POINT' | 'LOW_ACCURACY' | ImplausibleCode;

export interface Rejection {
  /** Position of the point in the batch as it was sent (before sorting). */
  readonly index: number;
  readonly code: RejectionCode;
  readonly message: string;
}

export interface AcceptedPoint extends GpsPoint {
  /** Older than the driver's latest fix: it belongs on the track but does not move the driver. */
  readonly late: boolean;
}

/**
 * What screening remembers about one driver between batches: plain data, safe to keep.
 * The window of neighbours is `points[from, to)`, not an array of its own: a request that adds the
 * newest point (nearly all of them) appends it to the array it was screened against instead of
 * copying 256 points into a new one (2 KiB per GPS point for the GC). That array is shared by the
 * driver's successive fixes, each reading only its own range: a fix appends only when its `to` is
 * the array's end, so nothing any fix reads ever changes (a second fix forked from the same one
 * finds the end taken and copies). See `recentOf` for the window as an array of its own.
 */
export interface DriverFix {
  /** The newest accepted point (by device time): the driver's position. */
  readonly latest: GpsPoint;
  /**
   * Holds the most recent accepted points, sorted by device time, at [from, to): the neighbours a
   * late point is judged against, and the memory that drops resent ones. Later fixes may append beyond `to`.
   */
  readonly points: readonly TrackPoint[];
  readonly from: number;
  readonly to: number;
}

/** The fix's window, as an array of its own. */
export const recentOf = (fix: DriverFix): TrackPoint[] => fix.points.slice(fix.from, fix.to);

/** A fix from a window built elsewhere (sorted by device time, at most RECENT_POINTS_KEPT); later fixes may append to `recent`. */
export const driverFix = (latest: GpsPoint, recent: TrackPoint[]): DriverFix => ({ latest, points: recent, from: 0, to: recent.length });

export interface ScreenResult {
  /** Accepted points in device-time order. */
  readonly accepted: AcceptedPoint[];
  /** Rejected points in batch order. */
  readonly rejected: Rejection[];
  /** The fix after this batch; `previous` unchanged (or null) when nothing was accepted. */
  readonly latest: DriverFix | null;
}

/**
 * Neighbours kept per driver: a few minutes of fixes at 1 Hz. A point older than all of them, once
 * the window is full, has no neighbour to be judged against, so it is refused as stale.
 */
export const RECENT_POINTS_KEPT = 256;

/**
 * Screens one batch of a driver's GPS points. The batch is sorted by device time first, so an
 * out-of-order batch reads like the drive it was; each point is then judged against its accepted
 * neighbours in device time (plausible.ts), which include points accepted earlier in this batch.
 * The speed check is self-healing: if the previous fix itself was a jump, the real points pass
 * again once enough time has gone by for the distance to be drivable.
 * Only accepted points are remembered, so a rejected point sent again is judged again.
 */
export function screenPoints(
  previous: DriverFix | null,
  points: readonly GpsPoint[],
  now: number,
  rules: Partial<TrackingRules> = NO_RULES,
): ScreenResult {
  const r = resolved(rules);
  const order = points.length === 1 ? ONLY_ONE : points.map((_, i) => i).sort((a, b) => points[a]!.recordedAt - points[b]!.recordedAt || a - b);
  // `previous` is never changed (a caller may screen against it again): the window grows by
  // appending past its end (see DriverFix) or, for a point in the middle, into a copy.
  let w: Window = previous ?? NO_WINDOW;
  let latest = previous?.latest ?? null;
  const accepted: AcceptedPoint[] = [];
  const rejected: Rejection[] = [];

  for (let k = 0; k < order.length; k++) {
    const index = order[k]!;
    const p = points[index]!;
    const verdict = judge(p, w, now, r);
    if (verdict) {
      rejected.push({ index, code: verdict.code, message: verdict.message });
      continue;
    }
    const late = latest !== null && p.recordedAt < latest.recordedAt;
    accepted.push({ lat: p.lat, lng: p.lng, recordedAt: p.recordedAt, heading: p.heading, speed: p.speed, accuracy: p.accuracy, late });
    w = withPoint(w, p);
    if (!late) latest = p;
  }

  if (rejected.length > 1) rejected.sort((a, b) => a.index - b.index);
  const fix = latest && w !== (previous ?? NO_WINDOW) ? { latest, points: w.points, from: w.from, to: w.to } : previous;
  return { accepted, rejected, latest: fix };
}

const NO_RULES: Partial<TrackingRules> = {};
const ONLY_ONE: readonly number[] = [0];

/** Rules given as overrides, merged with the defaults once per rules object (not once per request). */
const merged = new WeakMap<Partial<TrackingRules>, TrackingRules>();
function resolved(rules: Partial<TrackingRules>): TrackingRules {
  if (rules === NO_RULES) return defaultTrackingRules;
  let r = merged.get(rules);
  if (!r) merged.set(rules, (r = { ...defaultTrackingRules, ...rules }));
  return r;
}

/** A window: points[from, to) of an array that later windows may append to (see DriverFix). */
interface Window {
  readonly points: readonly TrackPoint[];
  readonly from: number;
  readonly to: number;
}
/** No window yet: its array is never appended to (every driver gets an array of their own). */
const NO_WINDOW: Window = { points: Object.freeze([]) as readonly TrackPoint[], from: 0, to: 0 };

/**
 * Past this many points fallen out of the window at the head of a shared array, the window moves
 * to an array of its own: one copy of RECENT_POINTS_KEPT points per this many appended, and an
 * array never holds more than RECENT_POINTS_KEPT + this.
 */
const COMPACT_AFTER = 64;

/**
 * Takes in a point another instance accepted (read back from the log), so this instance judges the
 * driver's next points against it too. A point already known changes nothing (and `previous` is
 * returned as it is).
 */
export function observePoint(previous: DriverFix | null, p: GpsPoint): DriverFix {
  const w: Window = previous ?? NO_WINDOW;
  const i = insertionIndex(w.points, p.recordedAt, w.from, w.to);
  const known = i < w.to && w.points[i]!.recordedAt === p.recordedAt;
  if (known && previous && previous.latest.recordedAt >= p.recordedAt) return previous;
  const latest = previous && previous.latest.recordedAt >= p.recordedAt ? previous.latest : p;
  const next = known ? w : withPoint(w, p);
  return { latest, points: next.points, from: next.from, to: next.to };
}

/**
 * The window with `p` in its place and the oldest beyond RECENT_POINTS_KEPT left out. The newest
 * point, on a window that ends its array, is appended in place (what other windows read is
 * unchanged); anywhere else the window is copied, in one allocation of its final size.
 */
function withPoint(w: Window, p: TrackPoint): Window {
  const { points, from, to } = w;
  const point = { lat: p.lat, lng: p.lng, recordedAt: p.recordedAt };
  const at = insertionIndex(points, p.recordedAt, from, to);
  if (at === to && to === points.length && w !== NO_WINDOW) {
    (points as TrackPoint[]).push(point);
    const head = Math.max(from, to + 1 - RECENT_POINTS_KEPT);
    if (head < COMPACT_AFTER) return { points, from: head, to: to + 1 };
    return { points: points.slice(head, to + 1), from: 0, to: to + 1 - head };
  }
  const total = to - from + 1;
  const drop = Math.max(0, total - RECENT_POINTS_KEPT);
  const next: TrackPoint[] = new Array(total - drop);
  // Position k of the window with `p` inserted at `at` (relative: at - from); the first `drop` positions go.
  const rel = at - from;
  for (let k = drop; k < total; k++) next[k - drop] = k < rel ? points[from + k]! : k === rel ? point : points[from + k - 1]!;
  return { points: next, from: 0, to: next.length };
}

/**
 * When a GPS point is refused: the whole rule, in the order it is applied (the first that fails
 * names the point's rejection code).
 *  1. INVALID_POINT: lat, lng or recordedAt out of range.
 *  2. FUTURE_POINT: device time ahead of `now` by more than `maxFutureSkewMs`.
 *  3. STALE_POINT: older than `maxAgeMs`, or older than every one of the last RECENT_POINTS_KEPT fixes.
 *  4. LOW_ACCURACY: accuracy radius worse than `maxAccuracyM`.
 *  5. Against its accepted neighbours in device time (`judgeAgainstNeighbours`, plausible.ts, shared
 *     with the fare's track): DUPLICATE_POINT, CONFLICTING_POINT, TOO_FREQUENT (`minIntervalMs`),
 *     IMPOSSIBLE_SPEED (`maxSpeedMps`), IMPLAUSIBLE_TRACK (`jitterM`, `maxAccelerationMps2`).
 */
function judge(p: GpsPoint, w: Window, now: number, r: TrackingRules): Implausible | Omit<Rejection, 'index'> | null {
  if (!isLatLng(p) || !Number.isFinite(p.recordedAt)) {
    return { code: 'INVALID_POINT', message: 'lat, lng or recordedAt is out of range' };
  }
  if (p.recordedAt - now > r.maxFutureSkewMs) {
    return { code: 'FUTURE_POINT', message: `recordedAt is ${p.recordedAt - now} ms ahead of server time` };
  }
  if (now - p.recordedAt > r.maxAgeMs) {
    return { code: 'STALE_POINT', message: `recordedAt is ${now - p.recordedAt} ms old (max ${r.maxAgeMs})` };
  }
  if (p.accuracy !== null && p.accuracy > r.maxAccuracyM) {
    return { code: 'LOW_ACCURACY', message: `accuracy ${p.accuracy} m is worse than ${r.maxAccuracyM} m` };
  }
  if (w.to - w.from >= RECENT_POINTS_KEPT && p.recordedAt < w.points[w.from]!.recordedAt) {
    return { code: 'STALE_POINT', message: `recordedAt is older than the last ${RECENT_POINTS_KEPT} fixes it could be checked against` };
  }
  return judgeAgainstNeighbours(w.points, p, r, w.from, w.to);
}
