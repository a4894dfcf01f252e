import type { LatLng } from '../../domain/geo.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import type { RideEvent, RideOffered, RideStatus } from '../../domain/ride/index.ts';

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
 * What the push path needs to know about a ride as of one of its events: who may watch it and what
 * every `ride.status` carries. Live push (the tracker) and replay (the hub) fold it the same way,
 * with `nextRideContext`, so a replayed message reads like the live one did.
 */
export interface RideContext {
  readonly rideId: string;
  readonly status: RideStatus;
  readonly riderId: string;
  /** The assigned driver (from acceptance on); null before. */
  readonly driverId: string | null;
  /** The driver holding the open offer, if any: they may watch the ride while it is theirs to take. */
  readonly offeredTo: string | null;
  /** The driver whose offer this very event ended without acceptance (declined, expired, cancelled...). */
  readonly offerEndedFor: string | null;
  readonly pickup: LatLng;
  readonly dropoff: LatLng;
  /** The ride's version after this event. */
  readonly version: number;
}

/** The context after `e`, from the one before it (null before the ride exists). Pure. */
export function nextRideContext(prev: RideContext | null, e: Recorded<RideEvent>): RideContext | null {
  const version = e.metadata.version;
  if (e.type === 'RideRequested') {
    const { riderId, pickup, dropoff } = e.data;
    return { rideId: e.metadata.key, status: 'requested', riderId, driverId: null, offeredTo: null, offerEndedFor: null, pickup, dropoff, version };
  }
  if (!prev) return null;
  const base = { ...prev, status: STATUS_AFTER[e.type], offerEndedFor: null, version };
  switch (e.type) {
    case 'RideOffered':
      return { ...base, offeredTo: e.data.driverId };
    case 'OfferDeclined':
    case 'OfferExpired':
      return { ...base, offeredTo: null, offerEndedFor: e.data.driverId };
    case 'RideAccepted':
      return { ...base, offeredTo: null, driverId: e.data.driverId };
    case 'RideCancelled':
    case 'RideUnmatched':
      return { ...base, offeredTo: null, offerEndedFor: prev.offeredTo };
    default:
      return base;
  }
}

/** Each event of a ride's history with the context it leaves the ride in. */
export function foldRideContexts(history: readonly Recorded<RideEvent>[]): { event: Recorded<RideEvent>; context: RideContext | null }[] {
  let context: RideContext | null = null;
  return history.map((event) => {
    context = nextRideContext(context, event);
    return { event, context };
  });
}

/** Event fields that never leave: who an offer went to is the offered driver's business, not the rider's. */
const PRIVATE_FIELDS: Partial<Record<RideEvent['type'], readonly string[]>> = {
  RideOffered: ['driverId'],
  OfferDeclined: ['driverId'],
  OfferExpired: ['driverId'],
};

/**
 * `ride.status` for one ride event. `event` names what happened (a decline and a new request both
 * leave the ride `requested`); the event's own fields ride along, minus the internal ones, plus the
 * ride's pickup, dropoff and assigned driver as of this event (null before acceptance).
 */
export function rideStatusMessage(e: Recorded<RideEvent>, context: RideContext | null = null) {
  const { at, rideId: _rideId, ...details } = e.data as { at: number; rideId: string } & Record<string, unknown>;
  for (const field of PRIVATE_FIELDS[e.type] ?? []) delete details[field];
  return {
    type: 'ride.status' as const,
    rideId: e.metadata.key,
    status: STATUS_AFTER[e.type],
    event: e.type,
    eventId: e.metadata.eventId,
    at: new Date(at).toISOString(),
    ...details,
    ...(context && { pickup: context.pickup, dropoff: context.dropoff, driverId: context.driverId }),
  };
}

export type RideStatusMessage = ReturnType<typeof rideStatusMessage>;

/** `ride.offer`: what the offered driver needs to decide, sent to them without any subscription. */
export function rideOfferMessage(
  e: Recorded<RideOffered>,
  ride: { pickup: LatLng; dropoff: LatLng },
) {
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
