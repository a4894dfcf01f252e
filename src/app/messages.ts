import type { Recorded } from '../../domain/ports/event-log.ts';
import type { RideEvent, RideStatus } from '../../domain/ride/index.ts';

/** The ride status a ride event leaves the ride in (FareCalculated and later keep `completed`). */
export const STATUS_AFTER: Record<RideEvent['type'], RideStatus> = {
  RideRequested: 'requested',
  RideOffered: 'offered',
  OfferDeclined: 'requested',
  OfferExpired: 'requested',
  RideAccepted: 'accepted',
  DriverArrived: 'arrived',
  TripStarted: 'in_progress',
  TripCompleted: 'completed',
  RideCancelled: 'cancelled',
  RideUnmatched: 'unmatched',
  FareCalculated: 'completed',
  PaymentCaptured: 'completed',
  PaymentFailed: 'completed',
  RideRated: 'completed',
};

/**
 * `ride.status` for one ride event. `event` names what happened (a decline and a new request both
 * leave the ride `requested`); the event's own fields ride along, minus the internal ones.
 */
export function rideStatusMessage(e: Recorded<RideEvent>) {
  const { at, rideId: _rideId, ...details } = e.data as { at: number; rideId: string } & Record<string, unknown>;
  return {
    type: 'ride.status' as const,
    rideId: e.metadata.key,
    status: STATUS_AFTER[e.type],
    event: e.type,
    eventId: e.metadata.eventId,
    at: new Date(at).toISOString(),
    ...details,
  };
}

export interface LocationMessage {
  type: 'driver.location';
  rideId: string | null;
  driverId: string;
  lat: number;
  lng: number;
  heading: number | null;
  speed: number | null;
  recordedAt: string;
  etaSeconds: number | null;
  eventId: string;
}
