import { bearingDegrees, distanceMeters, type LatLng } from '../../domain/geo.ts';
import type { LocationPoint } from './api-client.ts';
import type { Random } from './random.ts';
import type { Route } from './routing.ts';

export interface Motion {
  readonly position: LatLng;
  readonly heading: number;
  /** Metres per second. */
  readonly speed: number;
}

/** Follows a route at city speeds: 8–15 m/s between intersections, easing in and out, stopping now and then at lights. */
export interface RouteFollower {
  readonly arrived: boolean;
  readonly remainingMeters: number;
  advance(seconds: number): Motion;
}

const ACCELERATION = 2.5; // m/s², a calm urban driver
const MIN_CRUISE = 8;
const MAX_CRUISE = 15;

export function followRoute(route: Route, rng: Random): RouteFollower {
  const pts = route.points;
  let leg = 1;
  let along = 0;
  let speed = 0;
  let target = rng.between(MIN_CRUISE, MAX_CRUISE);
  let stoppedFor = 0;
  let remaining = route.lengthMeters;
  let heading = pts.length > 1 ? bearingDegrees(pts[0]!, pts[1]!) : 0;
  let position: LatLng = pts[0] ?? { lat: 0, lng: 0 };

  const arrived = () => leg >= pts.length;

  return {
    get arrived() {
      return arrived();
    },
    get remainingMeters() {
      return Math.max(0, remaining);
    },
    advance(seconds) {
      let left = seconds;
      while (left > 1e-6 && !arrived()) {
        if (stoppedFor > 0) {
          const wait = Math.min(stoppedFor, left);
          stoppedFor -= wait;
          left -= wait;
          speed = 0;
          continue;
        }
        const a = pts[leg - 1]!;
        const b = pts[leg]!;
        const legLength = distanceMeters(a, b);
        const toEnd = legLength - along;
        // Slow down for the end of the route so the car does not arrive at full speed.
        const cap = leg === pts.length - 1 ? Math.max(3, Math.sqrt(2 * ACCELERATION * toEnd)) : MAX_CRUISE;
        const wanted = Math.min(target, cap);
        speed = speed < wanted ? Math.min(wanted, speed + ACCELERATION * left) : Math.max(wanted, speed - ACCELERATION * left);
        const step = Math.max(speed, 1) * left;
        if (legLength > 0) heading = bearingDegrees(a, b);
        if (step < toEnd) {
          along += step;
          remaining -= step;
          left = 0;
          const t = legLength > 0 ? along / legLength : 1;
          position = { lat: a.lat + (b.lat - a.lat) * t, lng: a.lng + (b.lng - a.lng) * t };
        } else {
          left -= toEnd / Math.max(speed, 1);
          remaining -= toEnd;
          position = b;
          leg++;
          along = 0;
          if (!arrived() && rng.chance(0.12)) stoppedFor = rng.between(3, 20);
          if (rng.chance(0.3)) target = rng.between(MIN_CRUISE, MAX_CRUISE);
        }
      }
      if (arrived()) speed = 0;
      return { position, heading, speed };
    },
  };
}

const METRES_PER_DEGREE = 111_320;

/** What a phone would report: the true position blurred by a few metres, with the accuracy it claims. */
export function gpsFix(motion: Motion, rng: Random, at: Date): LocationPoint {
  const accuracy = Math.round(rng.between(3, 12));
  const sigma = accuracy / 2;
  const north = rng.gaussian() * sigma;
  const east = rng.gaussian() * sigma;
  const { lat, lng } = motion.position;
  return {
    lat: round7(lat + north / METRES_PER_DEGREE),
    lng: round7(lng + east / (METRES_PER_DEGREE * Math.cos((lat * Math.PI) / 180))),
    recordedAt: at.toISOString(),
    heading: Math.round(((motion.heading + rng.gaussian() * 3) % 360) + 360) % 360,
    speed: Math.max(0, Math.round((motion.speed + rng.gaussian() * 0.3) * 10) / 10),
    accuracy,
  };
}

const round7 = (v: number) => Math.round(v * 1e7) / 1e7;
