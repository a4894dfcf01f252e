import { distanceMeters, type LatLng } from '../geo.ts';

export interface EtaContext {
  /** The driver's current (smoothed) speed in m/s; null when unknown. */
  readonly speedMps: number | null;
}

/**
 * Estimates how long a driver needs to get from one place to another.
 * The default is a straight-line guess; a routing engine (OSRM, Valhalla) plugs in behind the
 * same port. It is synchronous on purpose: it runs for every GPS point on the hot path, so a
 * routing adapter answers from route durations it fetched in the background (cache per ride,
 * refreshed every few seconds) and falls back to the straight-line guess while it has none.
 */
export interface EtaEstimator {
  /** Whole seconds from `from` to `to`; 0 once there. Never negative, never NaN. */
  estimateSeconds(from: LatLng, to: LatLng, context: EtaContext): number;
}

export interface StraightLineEtaOptions {
  /** Roads are longer than the crow flies: ~1.3 in a city grid. */
  readonly detourFactor: number;
  /** A driver stopped at a light still gets there: never assume slower than this (≈ 15 km/h). */
  readonly floorSpeedMps: number;
  /** A burst on an avenue does not last the whole way (≈ 60 km/h). */
  readonly maxSpeedMps: number;
  /** Within this distance the driver is there. */
  readonly arrivedWithinM: number;
}

export const defaultStraightLineEtaOptions: StraightLineEtaOptions = {
  detourFactor: 1.3,
  floorSpeedMps: 4,
  maxSpeedMps: 17,
  arrivedWithinM: 20,
};

/** distance × detour ÷ the current speed clamped to [floor, max]; an unknown speed counts as the floor. */
export function straightLineEta(options: Partial<StraightLineEtaOptions> = {}): EtaEstimator {
  const o = { ...defaultStraightLineEtaOptions, ...options };
  return {
    estimateSeconds(from, to, { speedMps }) {
      const meters = distanceMeters(from, to);
      if (!(meters > o.arrivedWithinM)) return 0;
      const known = speedMps !== null && Number.isFinite(speedMps) ? speedMps : o.floorSpeedMps;
      const speed = Math.min(o.maxSpeedMps, Math.max(o.floorSpeedMps, known));
      return Math.round((meters * o.detourFactor) / speed);
    },
  };
}
