import { distanceMeters, type LatLng } from '../geo.ts';
import type { TrackPoint } from './point.ts';

/** Per-ride arrival watch: plain data, safe to store between fixes. */
export interface ArrivalState {
  /** Device time of the first fix of the current stay inside the radius; null when outside. */
  readonly insideSince: number | null;
  /** Device time of the newest fix seen, so a late fix cannot undo a stay. */
  readonly lastAt: number;
  readonly arrived: boolean;
}

export interface ArrivalRules {
  /** The driver is "there" within this distance of the pickup, metres. */
  readonly radiusM: number;
  /** ...and has been there for this long, so driving past does not count. */
  readonly dwellMs: number;
  /** A stay ends only beyond radius + margin, so jitter at the edge does not restart the clock. */
  readonly exitMarginM: number;
}

export const defaultArrivalRules: ArrivalRules = { radiusM: 50, dwellMs: 20_000, exitMarginM: 15 };

export interface ArrivalDecision {
  readonly state: ArrivalState;
  /** True exactly once: on the fix that completes the dwell. */
  readonly arrived: boolean;
}

/**
 * Arrival is a dwell rule only: the driver has stayed within the radius for `dwellMs` of device
 * time. A speed of ~0 inside the radius is not a shortcut, because a car stopped at a red light
 * next to the pickup looks just like that. Fixes older than the newest one seen are ignored.
 * Once arrived, the state stays arrived and `arrived` is never true again.
 */
export function detectArrival(
  state: ArrivalState | null,
  fix: TrackPoint,
  pickup: LatLng,
  rules: Partial<ArrivalRules> = {},
): ArrivalDecision {
  const r = { ...defaultArrivalRules, ...rules };
  if (state !== null && (state.arrived || fix.recordedAt < state.lastAt)) return { state, arrived: false };

  const meters = distanceMeters(fix, pickup);
  const wasInside = state !== null && state.insideSince !== null;
  const inside = meters <= r.radiusM || (wasInside && meters <= r.radiusM + r.exitMarginM);
  const insideSince = inside ? (state?.insideSince ?? fix.recordedAt) : null;
  const arrived = insideSince !== null && fix.recordedAt - insideSince >= r.dwellMs;
  return { state: { insideSince, lastAt: fix.recordedAt, arrived }, arrived };
}
