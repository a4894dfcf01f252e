import type { Ride } from './state.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The ride as the API shows it (API.md, `RideView` in the OpenAPI document). `etaSeconds` is the
 * live estimate the tracker has, when it has one; the fold itself knows no ETA.
 */
export function toView(ride: Ride, etaSeconds: number | null = null) {
  return {
    rideId: ride.rideId,
    riderId: ride.riderId,
    driverId: ride.driverId,
    status: ride.status,
    pickup: ride.pickup,
    dropoff: ride.dropoff,
    requestedAt: new Date(ride.requestedAt).toISOString(),
    acceptedAt: iso(ride.acceptedAt),
    arrivedAt: iso(ride.arrivedAt),
    startedAt: iso(ride.startedAt),
    completedAt: iso(ride.completedAt),
    cancelledAt: iso(ride.cancelledAt),
    etaSeconds,
    distanceMeters: ride.distanceMeters,
    fare: ride.fare,
    payment: ride.payment === null ? null : { status: ride.payment },
    rating: ride.rating,
  };
}

export type RideView = ReturnType<typeof toView>;
