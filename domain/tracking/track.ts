import { distanceMeters } from '../geo.ts';
import { pointKey, type TrackPoint } from './point.ts';

/** A track point that may carry its accuracy radius, metres. */
export type MeasuredPoint = TrackPoint & { readonly accuracy?: number | null };

export interface TrackDistanceOptions {
  /** Accuracy assumed for a point that has none, metres. */
  readonly defaultAccuracyM: number;
  /** A leg shorter than this never counts, however precise the fixes. */
  readonly minLegM: number;
  /** Poor fixes never hold the anchor back by more than this, so corners are not cut too much. */
  readonly maxLegM: number;
}

export const defaultTrackDistanceOptions: TrackDistanceOptions = { defaultAccuracyM: 5, minLegM: 3, maxLegM: 50 };

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

/**
 * Distance driven along a track, ignoring jitter: a leg counts only once the driver is further
 * from the last counted point (the anchor) than the two fixes' accuracy radii together could
 * explain. A parked car's readings all sit inside that circle, so it accumulates ~nothing; a
 * moving car leaves it within a second or two, and the straight chords it is measured by lose
 * little except on tight corners. The final stretch shorter than that circle is not counted either
 * (at most `maxLegM`, usually 10-20 m): an end parked in jitter would otherwise add it.
 */
export function trackDistanceMeters(points: readonly MeasuredPoint[], options: Partial<TrackDistanceOptions> = {}): number {
  const o = { ...defaultTrackDistanceOptions, ...options };
  const ordered = orderedUnique(points);
  const radius = (p: MeasuredPoint) => (p.accuracy != null && p.accuracy > 0 ? p.accuracy : o.defaultAccuracyM);
  if (ordered.length < 2) return 0;
  let anchor = ordered[0]!;
  let total = 0;
  for (let i = 1; i < ordered.length; i++) {
    const p = ordered[i]!;
    const leg = distanceMeters(anchor, p);
    const threshold = Math.min(o.maxLegM, Math.max(o.minLegM, radius(anchor) + radius(p)));
    if (leg <= threshold) continue;
    total += leg;
    anchor = p;
  }
  return total;
}
