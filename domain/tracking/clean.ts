import { distanceMeters, isLatLng } from '../geo.ts';
import { pointKey, type GpsPoint } from './point.ts';

/** Ingestion limits for driver GPS. */
export interface TrackingRules {
  /** A device clock may run ahead of ours by this much before a point counts as from the future. */
  readonly maxFutureSkewMs: number;
  /** Points older than this (against server time) are too old to say anything about now. */
  readonly maxAgeMs: number;
  /** Fixes with a worse accuracy radius are noise, not position. */
  readonly maxAccuracyM: number;
  /** Faster than this between two fixes is a GPS jump, not a car. */
  readonly maxSpeedMps: number;
}

export const defaultTrackingRules: TrackingRules = {
  maxFutureSkewMs: 30_000,
  maxAgeMs: 10 * 60_000,
  maxAccuracyM: 100,
  maxSpeedMps: 70,
};

export type RejectionCode =
  | 'INVALID_POINT'
  | 'DUPLICATE_POINT'
  | 'FUTURE_POINT'
  | 'STALE_POINT'
  | 'LOW_ACCURACY'
  | 'IMPOSSIBLE_SPEED';

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
  /** Keys of recently accepted points, newest last, to drop resent ones. */
  readonly recentKeys: readonly string[];
}

export interface ScreenResult {
  /** Accepted points in device-time order. */
  readonly accepted: AcceptedPoint[];
  /** Rejected points in batch order. */
  readonly rejected: Rejection[];
  /** The fix after this batch; `previous` unchanged (or null) when nothing was accepted. */
  readonly latest: DriverFix | null;
}

/** Enough to catch a resent batch of 100 points; older resends fall out as stale or late. */
export const RECENT_KEYS_KEPT = 128;

/** Below this gap the implied speed is dominated by jitter, so the gap is counted as one second. */
const MIN_SPEED_GAP_MS = 1_000;

/**
 * Screens one batch of a driver's GPS points against the last accepted fix.
 * The batch is sorted by device time first, so an out-of-order batch reads like the drive it was.
 * Each point is checked against the running latest fix, which includes points accepted earlier in
 * this batch. The speed check is self-healing: if the previous fix itself was a jump, the real
 * points pass again once enough time has gone by for the distance to be drivable.
 * Only accepted points are remembered as seen, so a rejected point sent again is judged again.
 */
export function screenPoints(
  previous: DriverFix | null,
  points: readonly GpsPoint[],
  now: number,
  rules: Partial<TrackingRules> = {},
): ScreenResult {
  const r = { ...defaultTrackingRules, ...rules };
  const order = points.map((_, i) => i).sort((a, b) => points[a]!.recordedAt - points[b]!.recordedAt || a - b);
  const seen = new Set(previous?.recentKeys ?? []);
  const keys = [...(previous?.recentKeys ?? [])];
  let latest = previous?.latest ?? null;
  const accepted: AcceptedPoint[] = [];
  const rejected: Rejection[] = [];

  for (const index of order) {
    const p = points[index]!;
    const verdict = judge(p, latest, seen, now, r);
    if (verdict) {
      rejected.push({ index, ...verdict });
      continue;
    }
    const late = latest !== null && p.recordedAt < latest.recordedAt;
    accepted.push({ ...p, late });
    const key = pointKey(p);
    seen.add(key);
    keys.push(key);
    if (!late) latest = p;
  }

  rejected.sort((a, b) => a.index - b.index);
  const fix = latest && accepted.length > 0 ? { latest, recentKeys: keys.slice(-RECENT_KEYS_KEPT) } : previous;
  return { accepted, rejected, latest: fix };
}

function judge(
  p: GpsPoint,
  latest: GpsPoint | null,
  seen: ReadonlySet<string>,
  now: number,
  r: TrackingRules,
): Omit<Rejection, 'index'> | null {
  if (!isLatLng(p) || !Number.isFinite(p.recordedAt)) {
    return { code: 'INVALID_POINT', message: 'lat, lng or recordedAt is out of range' };
  }
  if (seen.has(pointKey(p))) {
    return { code: 'DUPLICATE_POINT', message: `point at ${p.recordedAt} was already received` };
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
  if (latest) {
    const gapMs = Math.max(Math.abs(p.recordedAt - latest.recordedAt), MIN_SPEED_GAP_MS);
    const speed = distanceMeters(latest, p) / (gapMs / 1000);
    if (speed > r.maxSpeedMps) {
      return { code: 'IMPOSSIBLE_SPEED', message: `implies ${Math.round(speed)} m/s from the last fix (max ${r.maxSpeedMps})` };
    }
  }
  return null;
}
