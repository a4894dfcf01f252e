import type { FleetQueries, FleetSnapshot } from '../../domain/ports/fleet-snapshot.ts';
import type { LatLng } from '../../domain/geo.ts';
import type { RideStatus } from '../../domain/ride/index.ts';
import type { Fleet } from '../../projections/fleet/index.ts';

export interface FleetSnapshotDeps {
  readonly fleet: Pick<Fleet, 'all'>;
  /** The rides this instance's tracker holds as active. */
  readonly activeRides: () => ReadonlyMap<string, { readonly status: RideStatus; readonly pickup: LatLng; readonly dropoff: LatLng; readonly driverId: string | null }>;
}

/**
 * The operators' picture, sent once when a socket starts watching the fleet: every driver with a
 * position and what they are doing (on a trip before available before offline), and every active ride.
 */
export function makeFleetQueries({ fleet, activeRides }: FleetSnapshotDeps): FleetQueries {
  return {
    async snapshot(): Promise<FleetSnapshot> {
      const drivers: FleetSnapshot['drivers'][number][] = [];
      for (const d of fleet.all()) {
        if (!d.position) continue;
        drivers.push({ driverId: d.driverId, lat: d.position.lat, lng: d.position.lng, status: d.rideId ? 'on_trip' : d.available ? 'available' : 'offline' });
      }
      const rides = [...activeRides()].map(([rideId, r]) => ({ rideId, status: r.status, pickup: r.pickup, dropoff: r.dropoff, driverId: r.driverId }));
      return { drivers, rides };
    },
  };
}
