import { distanceMeters, type LatLng } from '../../domain/geo.ts';
import type { FairnessRules } from '../../domain/matching/dispatch.ts';
import { rankCandidates, type MatchPolicy, type RankedDriver } from '../../domain/matching/policy.ts';
import { freeWithFreshFix, type Fleet, type FleetDriver } from '../../projections/fleet/index.ts';

/** The matcher's view of the fleet around a pickup: who may be offered a ride now, and how far they are. */
export function makeCandidates(fleet: Fleet, policy: MatchPolicy, fairness: FairnessRules | undefined, now: () => number) {
  return {
    /** `nearest`: the free, fresh drivers near the pickup, best first (rankCandidates), but for those in `exclude`. */
    ranked(pickup: LatLng, exclude: readonly string[]): RankedDriver[] {
      const maxRadius = policy.radiiMeters.at(-1) ?? 5_000;
      const at = now();
      // Only eligible drivers count towards the k nearest, so stale or passed ones cannot crowd out the rest.
      const eligible = (d: FleetDriver) => freeWithFreshFix(d, at, policy.freshnessMs) && !exclude.includes(d.driverId);
      const nearby = fleet.nearest(pickup, policy.limit * 4, maxRadius, eligible);
      return rankCandidates(pickup, nearby, { now: at, passedBy: exclude, policy, fairness });
    },
    /** Metres from the driver's last position to the pickup (0 when unknown). */
    distanceTo(driverId: string, pickup: LatLng): number {
      const position = fleet.get(driverId)?.position;
      return position ? Math.round(distanceMeters(position, pickup)) : 0;
    },
  };
}
