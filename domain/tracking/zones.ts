import type { LatLng } from '../geo.ts';

export interface ZoneTransition {
  /** Zones the point is in that the previous zones did not include. */
  readonly entered: string[];
  /** Previous zones the point is no longer in. */
  readonly exited: string[];
  /** All zones the point is in, in the map's order. */
  readonly now: string[];
}

/**
 * Where the business operates and its named zones (airport, downtown surge area, ...).
 * The domain asks; an adapter answers from real geometry.
 */
export interface ZoneMap {
  /** True when rides may start or end at `p`; true everywhere when no service area is set. */
  inServiceArea(p: LatLng): boolean;
  /** Names of the zones containing `p`, in the map's order; a point may be in several. */
  zonesAt(p: LatLng): string[];
  /** The zones at `p` compared with the zones a driver was in before. */
  transitions(prevZones: readonly string[], p: LatLng): ZoneTransition;
}

/** What changed between two zone memberships. */
export function zoneTransition(prevZones: readonly string[], now: string[]): ZoneTransition {
  const before = new Set(prevZones);
  const after = new Set(now);
  return {
    entered: now.filter((z) => !before.has(z)),
    exited: prevZones.filter((z) => !after.has(z)),
    now,
  };
}
