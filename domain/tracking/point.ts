import type { LatLng } from '../geo.ts';

/** One GPS reading as the driver's device recorded it. */
export interface GpsPoint extends LatLng {
  /** Device time, epoch ms: when the fix was taken, not when it reached us. */
  readonly recordedAt: number;
  /** Degrees clockwise from north, as the device reports it. */
  readonly heading: number | null;
  /** Metres per second, as the device reports it. */
  readonly speed: number | null;
  /** Horizontal accuracy radius in metres (smaller is better). */
  readonly accuracy: number | null;
}

/** A point on a driver's track: where and when, nothing else. */
export interface TrackPoint extends LatLng {
  readonly recordedAt: number;
}

/** Identity of a reading: a resent point has the same time and the same coordinates. */
export const pointKey = (p: TrackPoint): string => `${p.recordedAt}|${p.lat}|${p.lng}`;
