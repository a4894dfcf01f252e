import { EARTH_RADIUS_M, type LatLng } from '../geo.ts';
import type { GpsPoint } from './point.ts';

/**
 * Per-driver smoothing state: plain data, safe to store between points.
 * Position is kept in degrees; velocity (east, north) and the covariances in metres, one
 * independent position/velocity filter per axis (the axes of a car on a map barely couple).
 * Covariances are the three distinct entries of a symmetric 2x2: [pos, pos·vel, vel].
 */
export interface SmoothingState {
  readonly lat: number;
  readonly lng: number;
  readonly vEast: number;
  readonly vNorth: number;
  readonly pEast: readonly [number, number, number];
  readonly pNorth: readonly [number, number, number];
  readonly at: number;
}

export interface SmoothedFix extends LatLng {
  readonly state: SmoothingState;
  readonly speedMps: number;
  /** From the filtered velocity while moving; the device's own heading (or null) when nearly still. */
  readonly heading: number | null;
}

export interface SmoothingOptions {
  /** How hard the car may accelerate, m/s² (process noise). Lower damps more and turns lag more. */
  readonly accelerationMps2: number;
  /** Assumed accuracy when the device gives none, metres. */
  readonly defaultAccuracyM: number;
  /** After a gap this long the old estimate says nothing: start again from the point. */
  readonly resetAfterMs: number;
  /** Below this speed the velocity is mostly jitter and says nothing about heading. */
  readonly movingSpeedMps: number;
}

export const defaultSmoothingOptions: SmoothingOptions = {
  accelerationMps2: 1,
  defaultAccuracyM: 10,
  resetAfterMs: 60_000,
  movingSpeedMps: 1,
};

const RAD = Math.PI / 180;
/** Variance of a velocity we know nothing about: (10 m/s)². */
const UNKNOWN_VELOCITY_VAR = 100;

type Axis = { x: number; v: number; p: readonly [number, number, number] };

/**
 * A constant-velocity Kalman filter (white-noise acceleration model) in local metres around
 * the last estimate, re-centred every step so a long drive never strays from a projection origin.
 * Measurement variance comes from the point's accuracy. dt = 0 fuses the two readings;
 * a point older than the state is not fed (the estimate is returned unchanged), and a long gap
 * restarts the filter from the point.
 */
export function smooth(state: SmoothingState | null, point: GpsPoint, options?: Partial<SmoothingOptions>): SmoothedFix {
  // Merged only when there is something to merge: the tracker smooths every point with the defaults.
  const o = options ? { ...defaultSmoothingOptions, ...options } : defaultSmoothingOptions;
  const accuracy = point.accuracy !== null && point.accuracy > 0 ? point.accuracy : o.defaultAccuracyM;
  const r = accuracy * accuracy;
  if (state === null || point.recordedAt - state.at > o.resetAfterMs) return output(start(point, r), point.heading, o);
  if (point.recordedAt < state.at) return output(state, null, o);

  const dt = (point.recordedAt - state.at) / 1000;
  const mPerDegLat = EARTH_RADIUS_M * RAD;
  const mPerDegLng = mPerDegLat * Math.cos(state.lat * RAD);
  const q = o.accelerationMps2 * o.accelerationMps2;
  // One axis at a time into `east` and `north`: no intermediate objects, no array destructuring
  // (an iterator per covariance), since every point of every driver passes here.
  const east = step(state.vEast, state.pEast, (point.lng - state.lng) * mPerDegLng, dt, q, r);
  const north = step(state.vNorth, state.pNorth, (point.lat - state.lat) * mPerDegLat, dt, q, r);
  const next: SmoothingState = {
    lat: state.lat + north.x / mPerDegLat,
    lng: state.lng + (mPerDegLng > 0 ? east.x / mPerDegLng : 0),
    vEast: east.v,
    vNorth: north.v,
    pEast: east.p,
    pNorth: north.p,
    at: point.recordedAt,
  };
  return output(next, point.heading, o);
}

function start(point: GpsPoint, r: number): SmoothingState {
  const known = point.speed !== null && point.heading !== null;
  const speed = known ? (point.speed ?? 0) : 0;
  const heading = known ? (point.heading ?? 0) * RAD : 0;
  const p: [number, number, number] = [r, 0, known ? 4 : UNKNOWN_VELOCITY_VAR];
  return {
    lat: point.lat,
    lng: point.lng,
    vEast: speed * Math.sin(heading),
    vNorth: speed * Math.cos(heading),
    pEast: p,
    pNorth: p,
    at: point.recordedAt,
  };
}

/**
 * Predict by dt seconds with acceleration noise q, then update with position z of variance r, on one
 * axis centred on the last estimate (position 0, velocity v, covariance p).
 */
function step(v: number, p: readonly [number, number, number], z: number, dt: number, q: number, r: number): Axis {
  const pxx = p[0];
  const pxv = p[1];
  const pvv = p[2];
  const dt2 = dt * dt;
  const px = v * dt;
  const ppxx = pxx + 2 * dt * pxv + dt2 * pvv + (q * dt2 * dt2) / 4;
  const ppxv = pxv + dt * pvv + (q * dt2 * dt) / 2;
  const ppvv = pvv + q * dt2;
  const s = ppxx + r;
  const kx = ppxx / s;
  const kv = ppxv / s;
  const innovation = z - px;
  return {
    x: px + kx * innovation,
    v: v + kv * innovation,
    p: [(1 - kx) * ppxx, (1 - kx) * ppxv, ppvv - kv * ppxv],
  };
}

function output(state: SmoothingState, deviceHeading: number | null, o: SmoothingOptions): SmoothedFix {
  const speedMps = Math.hypot(state.vEast, state.vNorth);
  const heading =
    speedMps >= o.movingSpeedMps ? (Math.atan2(state.vEast, state.vNorth) / RAD + 360) % 360 : deviceHeading;
  return { state, lat: state.lat, lng: state.lng, speedMps, heading };
}
