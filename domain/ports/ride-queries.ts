import type { Actor } from '../actor.ts';
import type { LatLng } from '../geo.ts';
import type { RideView } from '../ride/view.ts';

/** A ride as the public API shows it (API.md, "Ride"): `toView` of the one fold; no bookkeeping (versions, offers) leaves the service. */
export type PublicRide = RideView;

/** Where the ride's driver is now, smoothed, with the ETA to the next stop. */
export interface RideLocation {
  readonly driverId: string;
  readonly lat: number;
  readonly lng: number;
  readonly heading: number | null;
  readonly speed: number | null;
  /** Device time, ISO 8601. */
  readonly recordedAt: string;
  readonly etaSeconds: number | null;
}

/** The trip's cleaned track, in device-time order. */
export interface RideTrack {
  readonly rideId: string;
  readonly points: readonly { readonly lat: number; readonly lng: number; readonly recordedAt: string }[];
}

/**
 * The inbound port for reading one ride (HTTP `GET /v1/rides/:id…`, `POST …/share`). Every method
 * answers 404 NOT_FOUND, the same as for a ride that does not exist, to a caller who may not see it.
 */
export interface RideQueries {
  /** The ride, from the projection, or the log when the projection has not caught up (read-your-writes). */
  get(viewer: Actor, rideId: string): Promise<PublicRide>;
  /** The driver's latest position on this ride; 404 NO_LOCATION when none came yet. */
  location(viewer: Actor, rideId: string): Promise<RideLocation>;
  track(viewer: Actor, rideId: string): Promise<RideTrack>;
  /**
   * Whether `viewer` may hand out a watch-only share token for this ride: only its rider, and only
   * while the trip has not ended (409 INVALID_TRANSITION after). Resolves with the ride to name in it.
   */
  shareable(viewer: Actor, rideId: string): Promise<{ readonly rideId: string }>;
}
