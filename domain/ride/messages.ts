import type { LatLng } from '../geo.ts';
import type { Recorded } from '../ports/event-log.ts';
import type { OfferWithdrawn, RideEvent, RideOffered } from './events.ts';
import type { Ride } from './state.ts';

/**
 * What a watcher's socket receives for one ride event: `ride.status`. `ride` is the ride as this
 * event left it (the fold). `status` is where the event leaves the ride, `event` what happened (a
 * decline and a new request both leave it `requested`); the event's own fields ride along, minus its
 * driverId, plus the ride's pickup, dropoff and assigned driver (null before acceptance).
 */
export function rideStatusMessage(e: Recorded<RideEvent>, ride: Ride) {
  // The event's own driverId never leaves: who an offer went to is the offered driver's business, not
  // the rider's; the message names the ride's assigned driver (null before acceptance) instead.
  const { at, rideId: _rideId, driverId: _driverId, ...details } = e.data as { at: number; rideId: string; driverId?: string } & Record<string, unknown>;
  return {
    type: 'ride.status' as const,
    rideId: e.metadata.key,
    status: ride.status,
    event: e.type,
    eventId: e.metadata.eventId,
    at: new Date(at).toISOString(),
    ...details,
    pickup: ride.pickup,
    dropoff: ride.dropoff,
    driverId: ride.driverId,
  };
}

export type RideStatusMessage = ReturnType<typeof rideStatusMessage>;

/** `ride.offer`: what the offered driver needs to decide, sent to them without any subscription. */
export function rideOfferMessage(e: Recorded<RideOffered>, ride: { readonly pickup: LatLng; readonly dropoff: LatLng }) {
  const { distanceMeters, etaSeconds, expiresAt } = e.data;
  return {
    type: 'ride.offer' as const,
    rideId: e.metadata.key,
    pickup: ride.pickup,
    dropoff: ride.dropoff,
    distanceMeters,
    etaSeconds,
    expiresAt: new Date(expiresAt).toISOString(),
    eventId: e.metadata.eventId,
  };
}

export type RideOfferMessage = ReturnType<typeof rideOfferMessage>;

/**
 * `ride.offer.withdrawn`: sent to a driver whose open offer was taken back (fan-out: another driver
 * accepted first, or the ride was cancelled), without any subscription. Nothing else of the ride
 * follows it: they may not accept it, and see no more of it.
 */
export function rideOfferWithdrawnMessage(e: Recorded<OfferWithdrawn>) {
  return {
    type: 'ride.offer.withdrawn' as const,
    rideId: e.metadata.key,
    reason: e.data.reason,
    at: new Date(e.data.at).toISOString(),
    eventId: e.metadata.eventId,
  };
}

export type RideOfferWithdrawnMessage = ReturnType<typeof rideOfferWithdrawnMessage>;
