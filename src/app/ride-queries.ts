import type { Actor } from '../../domain/actor.ts';
import { DomainError, invalidTransition, notFound } from '../../domain/errors.ts';
import type { RideReadModel } from '../../domain/ports/read-model.ts';
import type { RideQueries } from '../../domain/ports/ride-queries.ts';
import { shareable, toView, type Ride } from '../../domain/ride/index.ts';
import type { LocationMessage } from './messages.ts';

export interface RideQueryDeps {
  /** The ride as `viewer` may see it, or 404 (the service applies who may see a ride). */
  readonly view: (viewer: Actor, rideId: string) => Promise<Ride>;
  /** The trip's track. */
  readonly readModel: Pick<RideReadModel, 'track'>;
  /** The driver's latest smoothed position on the ride, as this instance's tracker saw it. */
  readonly latestLocation: (rideId: string) => LocationMessage | null;
}

/**
 * Reading one ride, for the HTTP adapter. Who may see it is the service's `view`; what each reply
 * holds, and who may share a ride, is decided here rather than in a route.
 */
export function makeRideQueries({ view, readModel, latestLocation }: RideQueryDeps): RideQueries {
  return {
    async get(viewer, rideId) {
      const ride = await view(viewer, rideId);
      return toView(ride, latestLocation(ride.rideId)?.etaSeconds ?? null);
    },

    async location(viewer, rideId) {
      const ride = await view(viewer, rideId);
      const location = latestLocation(ride.rideId);
      if (!location) throw new DomainError('NO_LOCATION', 404, `no location for ride ${ride.rideId} yet`);
      const { driverId, lat, lng, heading, speed, recordedAt, etaSeconds } = location;
      return { driverId, lat, lng, heading, speed, recordedAt, etaSeconds };
    },

    async track(viewer, rideId) {
      const ride = await view(viewer, rideId);
      const points = await readModel.track(ride.rideId);
      return { rideId: ride.rideId, points: points.map((p) => ({ lat: p.lat, lng: p.lng, recordedAt: new Date(p.recordedAt).toISOString() })) };
    },

    /** A share token lets family watch the trip: only the rider hands one out, and only until the trip ends. */
    async shareable(viewer, rideId) {
      const ride = await view(viewer, rideId);
      const share = shareable(viewer, ride);
      if (share === 'not-theirs') throw notFound(`ride ${ride.rideId}`);
      if (share === 'ended') throw invalidTransition(`ride ${ride.rideId} is ${ride.status}; cannot share it`);
      return { rideId: ride.rideId };
    },
  };
}
