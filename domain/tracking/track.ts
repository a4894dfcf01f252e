import { distanceMeters } from '../geo.ts';
import { defaultPlausibilityRules, judgeAgainstNeighbours, type PlausibilityRules } from './plausible.ts';
import { pointKey, type TrackPoint } from './point.ts';

/**
 * A track point that may carry its accuracy radius, metres, and when the log recorded it (the
 * order in which it was accepted, which is the order the distance replays the screening in).
 */
export type MeasuredPoint = TrackPoint & { readonly accuracy?: number | null; readonly loggedAt?: number };

export interface TrackDistanceOptions extends PlausibilityRules {
  /** Accuracy assumed for a point that has none, metres. */
  readonly defaultAccuracyM: number;
  /** A leg shorter than this never counts, however precise the fixes. */
  readonly minLegM: number;
  /** Poor fixes never hold the anchor back by more than this, so corners are not cut too much. */
  readonly maxLegM: number;
}

export const defaultTrackDistanceOptions: TrackDistanceOptions = { ...defaultPlausibilityRules, defaultAccuracyM: 5, minLegM: 3, maxLegM: 50 };

/** Ordered by device time (stable for equal times), exact resends dropped. */
function orderedUnique<T extends TrackPoint>(points: readonly T[]): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const p of [...points].sort((a, b) => a.recordedAt - b.recordedAt)) {
    const key = pointKey(p);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}

/** The route for playback: ordered by device time, duplicates removed, nothing but where and when. */
export function cleanTrack(points: readonly TrackPoint[]): TrackPoint[] {
  return orderedUnique(points).map(({ lat, lng, recordedAt }) => ({ lat, lng, recordedAt }));
}

/** Predecessors looked at per point: forged points squeezed between two real fixes are skipped over. */
const CHAIN_WINDOW = 16;

/**
 * The points a car could have driven through, in device-time order: the longest chain of points in
 * which each step passes the neighbour rule (plausible.ts: one reading per instant and per
 * `minIntervalMs`, drivable at `maxSpeedMps`, and each point near the chord of its neighbours).
 * Dynamic programming over (previous, current) pairs, each point looking back `CHAIN_WINDOW` points.
 * The most points that agree win, whatever order they arrived in: a forger who sends first, sends
 * duplicates for the same instants, or zig-zags between real fixes only adds points the chain leaves out.
 */
export function plausibleTrack<T extends MeasuredPoint>(points: readonly T[], rules: Partial<PlausibilityRules> = {}): T[] {
  const r = { ...defaultPlausibilityRules, ...rules };
  const p = points
    .map((pt, i) => ({ pt, i }))
    .filter(({ pt }) => Number.isFinite(pt.recordedAt))
    .sort((a, b) => a.pt.recordedAt - b.pt.recordedAt || (a.pt.loggedAt ?? a.i) - (b.pt.loggedAt ?? b.i) || a.i - b.i)
    .map(({ pt }) => pt);
  const n = p.length;
  if (n < 2) return p;
  const W = CHAIN_WINDOW;
  // length[i*W + d-1]: the longest chain ending with the step (i-d → i); 0 when that step is not drivable.
  const length = new Int32Array(n * W);
  const from = new Int32Array(n * W).fill(-1);
  let best = 1;
  let bestAt = -1;
  for (let i = 1; i < n; i++) {
    for (let d = 1; d <= W && i - d >= 0; d++) {
      const j = i - d;
      if (!stepOk(p[j]!, p[i]!, r)) continue;
      let len = 2;
      let via = -1;
      for (let e = 1; e <= W && j - e >= 0; e++) {
        const before = length[j * W + e - 1]!;
        if (before + 1 > len && bendOk(p[j - e]!, p[j]!, p[i]!, r)) {
          len = before + 1;
          via = e;
        }
      }
      length[i * W + d - 1] = len;
      from[i * W + d - 1] = via;
      if (len > best) {
        best = len;
        bestAt = i * W + d - 1;
      }
    }
  }
  if (bestAt < 0) return [p[0]!];
  const chain: T[] = [];
  let i = Math.floor(bestAt / W);
  let d = (bestAt % W) + 1;
  for (;;) {
    chain.push(p[i]!);
    const via = from[i * W + d - 1]!;
    if (via < 0) {
      chain.push(p[i - d]!);
      break;
    }
    i -= d;
    d = via;
  }
  return chain.reverse();
}

/** One step of a chain: far enough apart in device time, and drivable. */
function stepOk(a: MeasuredPoint, b: MeasuredPoint, r: PlausibilityRules): boolean {
  return judgeAgainstNeighbours([a], b, r) === null;
}

/** `b` between `a` and `c` lies where a car could be (the chord rule of plausible.ts). */
function bendOk(a: MeasuredPoint, b: MeasuredPoint, c: MeasuredPoint, r: PlausibilityRules): boolean {
  return judgeAgainstNeighbours([a, c], b, r) === null;
}

/**
 * Distance driven along a track, ignoring jitter and forgeries, never more than the plausible
 * track allows.
 * - Only the plausible track counts (see `plausibleTrack`).
 * - A leg counts only once the driver is further from the last counted point (the anchor) than the
 *   two fixes' accuracy radii together could explain, and stays out: a fix whose next fix is back
 *   inside that circle is a spike, not a drive. A declared accuracy better than `defaultAccuracyM`
 *   does not shrink the circle (the device says what it likes). A parked car's readings all sit
 *   inside the circle, so it accumulates ~nothing; a moving car leaves it within a second or two,
 *   and the straight chords it is measured by lose little except on tight corners. The final
 *   stretch shorter than that circle is not counted either (at most `maxLegM`, usually 10-20 m).
 * - Each leg is capped at `maxSpeedMps` × its time gap, and the total at `maxSpeedMps` × the span
 *   of the track (and × `maxDurationMs` when the caller knows the trip's duration).
 */
export function trackDistanceMeters(
  points: readonly MeasuredPoint[],
  options: Partial<TrackDistanceOptions> & { readonly maxDurationMs?: number } = {},
): number {
  const o = { ...defaultTrackDistanceOptions, ...options };
  const ordered = plausibleTrack(points, o);
  const radius = (p: MeasuredPoint) => Math.max(o.defaultAccuracyM, p.accuracy ?? 0);
  const threshold = (a: MeasuredPoint, b: MeasuredPoint) => Math.min(o.maxLegM, Math.max(o.minLegM, radius(a) + radius(b)));
  if (ordered.length < 2) return 0;
  let anchor = ordered[0]!;
  let total = 0;
  for (let i = 1; i < ordered.length; i++) {
    const p = ordered[i]!;
    const leg = distanceMeters(anchor, p);
    if (leg <= threshold(anchor, p)) continue;
    const next = ordered[i + 1];
    if (next && distanceMeters(anchor, next) <= threshold(anchor, next)) continue;
    total += Math.min(leg, (o.maxSpeedMps * (p.recordedAt - anchor.recordedAt)) / 1000);
    anchor = p;
  }
  const spanMs = ordered.at(-1)!.recordedAt - ordered[0]!.recordedAt;
  const durationMs = o.maxDurationMs === undefined ? spanMs : Math.min(spanMs, Math.max(0, o.maxDurationMs));
  return Math.min(total, (o.maxSpeedMps * durationMs) / 1000);
}
