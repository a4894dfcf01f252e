import { isLatLng } from '../geo.ts';
import { defaultPlausibilityRules, insertionIndex, judgeAgainstNeighbours, type ImplausibleCode, type PlausibilityRules } from './plausible.ts';
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

/** What screening remembers about one driver between batches: plain data, safe to store. */
export interface DriverFix {
  /** The newest accepted point (by device time): the driver's position. */
  readonly latest: GpsPoint;
  /**
   * The most recent accepted points, sorted by device time: the neighbours a late point is judged
   * against, and the memory that drops resent ones.
   */
  readonly recent: readonly TrackPoint[];
}

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
  const r = rules === NO_RULES ? defaultTrackingRules : { ...defaultTrackingRules, ...rules };
  const order = points.length === 1 ? ONLY_ONE : points.map((_, i) => i).sort((a, b) => points[a]!.recordedAt - points[b]!.recordedAt || a - b);
  // Copy on write: `previous` is never changed (a caller may screen against it again), and the
  // window is copied once, by the first point accepted, not per request (most requests add one
  // point to a full window, or none).
  let recent: readonly TrackPoint[] = previous?.recent ?? EMPTY;
  let ours: TrackPoint[] | null = null;
  let latest = previous?.latest ?? null;
  const accepted: AcceptedPoint[] = [];
  const rejected: Rejection[] = [];

  for (const index of order) {
    const p = points[index]!;
    const verdict = judge(p, recent, now, r);
    if (verdict) {
      rejected.push({ index, ...verdict });
      continue;
    }
    const late = latest !== null && p.recordedAt < latest.recordedAt;
    accepted.push({ ...p, late });
    if (ours) remember(ours, p);
    else recent = ours = withPoint(recent, p);
    if (!late) latest = p;
  }

  if (rejected.length > 1) rejected.sort((a, b) => a.index - b.index);
  const fix = latest && ours ? { latest, recent: ours } : previous;
  return { accepted, rejected, latest: fix };
}

const NO_RULES: Partial<TrackingRules> = {};
const ONLY_ONE: readonly number[] = [0];
const EMPTY: readonly TrackPoint[] = [];

/**
 * Takes in a point another instance accepted (read back from the log), so this instance judges the
 * driver's next points against it too. A point already known changes nothing (and `previous` is
 * returned as it is).
 */
export function observePoint(previous: DriverFix | null, p: GpsPoint): DriverFix {
  const recent = previous?.recent ?? EMPTY;
  const known = recent[insertionIndex(recent, p.recordedAt)]?.recordedAt === p.recordedAt;
  if (known && previous && previous.latest.recordedAt >= p.recordedAt) return previous;
  const latest = previous && previous.latest.recordedAt >= p.recordedAt ? previous.latest : p;
  return { latest, recent: known ? recent : withPoint(recent, p) };
}

/** A new window: `recent` with `p` in its place and the oldest beyond RECENT_POINTS_KEPT left out, built in one allocation of its final size. */
function withPoint(recent: readonly TrackPoint[], p: TrackPoint): TrackPoint[] {
  const at = insertionIndex(recent, p.recordedAt);
  const total = recent.length + 1;
  const drop = Math.max(0, total - RECENT_POINTS_KEPT);
  const point = { lat: p.lat, lng: p.lng, recordedAt: p.recordedAt };
  const next: TrackPoint[] = new Array(total - drop);
  // Position k of the window with `p` inserted at `at`; the first `drop` positions go.
  for (let k = drop; k < total; k++) next[k - drop] = k < at ? recent[k]! : k === at ? point : recent[k - 1]!;
  return next;
}

function remember(recent: TrackPoint[], p: TrackPoint): void {
  recent.splice(insertionIndex(recent, p.recordedAt), 0, { lat: p.lat, lng: p.lng, recordedAt: p.recordedAt });
  if (recent.length > RECENT_POINTS_KEPT) recent.splice(0, recent.length - RECENT_POINTS_KEPT);
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
function judge(p: GpsPoint, recent: readonly TrackPoint[], now: number, r: TrackingRules): Omit<Rejection, 'index'> | null {
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
  const oldest = recent[0];
  if (recent.length >= RECENT_POINTS_KEPT && oldest && p.recordedAt < oldest.recordedAt) {
    return { code: 'STALE_POINT', message: `recordedAt is older than the last ${RECENT_POINTS_KEPT} fixes it could be checked against` };
  }
  return judgeAgainstNeighbours(recent, p, r);
}
