import { distanceMeters } from '../../domain/geo.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { DriverQueries, NearbyDriver } from '../../domain/ports/driver-queries.ts';
import type { DriverPositions } from '../../domain/ports/positions.ts';
import { freeWithFreshFix, type Fleet } from '../../projections/fleet/index.ts';

export interface NearbyDeps {
  /** This instance's rbush index: answers when there is no shared positions projection. */
  readonly fleet: Fleet;
  /** The shared Redis GEO projection (TRANSPORT=redis): answers for every instance alike. */
  readonly positions?: DriverPositions;
  /** A driver whose last fix is older than this is not listed (the matcher's freshness). */
  readonly freshnessMs: number;
  readonly clock: Clock;
}

/**
 * `GET /v1/drivers/nearby`: drivers free now (the driver decider's `isFree`) with a fresh fix,
 * within the radius, nearest first, at most `limit`. Whichever index answers (Redis GEO or rbush),
 * the rule, the time it is asked at, the distance (domain/geo.ts) and the order are the same here.
 */
export function makeNearby({ fleet, positions, freshnessMs, clock }: NearbyDeps): DriverQueries['nearby'] {
  return async ({ lat, lng, radiusMeters, limit }) => {
    const at = { lat, lng };
    const now = clock.now();
    const found = positions
      ? await positions.nearby(at, radiusMeters, limit, { now, freshnessMs })
      : fleet.nearest(at, limit, radiusMeters, (d) => freeWithFreshFix(d, now, freshnessMs));
    return found
      .map((d): NearbyDriver & { exact: number } => {
        const exact = distanceMeters(at, d);
        return { driverId: d.driverId, lat: d.lat, lng: d.lng, distanceMeters: Math.round(exact), exact };
      })
      .filter((d) => d.exact <= radiusMeters)
      .sort((a, b) => a.exact - b.exact || (a.driverId < b.driverId ? -1 : a.driverId > b.driverId ? 1 : 0))
      .slice(0, limit)
      .map(({ exact: _, ...d }) => d);
  };
}
