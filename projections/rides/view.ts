import { isStaff, type Actor } from '../../domain/actor.ts';
import type { LatLng } from '../../domain/geo.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import type { RideEvent, RideStatus } from '../../domain/ride/index.ts';

/** The ride as API.md shows it, plus the bookkeeping a projection needs (`version`, `offer`, `lastEventId`). */
export interface RideView {
  rideId: string;
  riderId: string;
  driverId: string | null;
  status: RideStatus;
  pickup: LatLng;
  dropoff: LatLng;
  requestedAt: string;
  acceptedAt: string | null;
  arrivedAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
  cancelledAt: string | null;
  etaSeconds: number | null;
  distanceMeters: number | null;
  fare: { amount: number; currency: string } | null;
  payment: { status: 'pending' | 'captured' | 'failed' } | null;
  rating: { stars: number; comment: string | null } | null;
  offer: { driverId: string; expiresAt: string } | null;
  version: number;
  lastEventId: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Folds one recorded ride event into the view. Idempotent: an event at or below the view's
 * version is stale (a redelivery or a replay) and returns the view unchanged.
 */
export function evolveRideView(view: RideView | null, event: Recorded<RideEvent>): RideView | null {
  const { version, eventId } = event.metadata;
  if (event.type === 'RideRequested') {
    if (view && view.version >= version) return view;
    const { rideId, riderId, pickup, dropoff, at } = event.data;
    return {
      rideId, riderId, driverId: null, status: 'requested', pickup, dropoff, requestedAt: iso(at),
      acceptedAt: null, arrivedAt: null, startedAt: null, completedAt: null, cancelledAt: null,
      etaSeconds: null, distanceMeters: null, fare: null, payment: null, rating: null, offer: null,
      version, lastEventId: eventId,
    };
  }
  if (!view || view.version >= version) return view;
  const next: RideView = { ...view, version, lastEventId: eventId };
  switch (event.type) {
    case 'RideOffered':
      return { ...next, status: 'offered', offer: { driverId: event.data.driverId, expiresAt: iso(event.data.expiresAt) } };
    case 'OfferDeclined':
    case 'OfferExpired':
      return { ...next, status: 'requested', offer: null };
    case 'RideAccepted':
      return { ...next, status: 'accepted', offer: null, driverId: event.data.driverId, acceptedAt: iso(event.data.at) };
    case 'DriverArrived':
      return { ...next, status: 'arrived', arrivedAt: iso(event.data.at), etaSeconds: null };
    case 'TripStarted':
      return { ...next, status: 'in_progress', startedAt: iso(event.data.at) };
    case 'TripCompleted':
      return {
        ...next, status: 'completed', completedAt: iso(event.data.at), distanceMeters: event.data.distanceMeters,
        etaSeconds: null, payment: { status: 'pending' },
      };
    case 'RideCancelled':
      return { ...next, status: 'cancelled', offer: null, cancelledAt: iso(event.data.at), etaSeconds: null };
    case 'RideUnmatched':
      return { ...next, status: 'unmatched', offer: null };
    case 'FareCalculated':
      return { ...next, fare: { amount: event.data.amount, currency: event.data.currency } };
    case 'PaymentCaptured':
      return { ...next, payment: { status: 'captured' } };
    case 'PaymentFailed':
      return { ...next, payment: { status: 'failed' } };
    case 'RideRated':
      return { ...next, rating: { stars: event.data.stars, comment: event.data.comment } };
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

export const foldRideView = (events: readonly Recorded<RideEvent>[]) =>
  events.reduce<RideView | null>((view, e) => evolveRideView(view, e), null);

/** The public shape: the bookkeeping fields stay inside. */
export function publicRideView(view: RideView, etaSeconds: number | null = view.etaSeconds) {
  const { offer: _offer, version: _version, lastEventId: _last, ...rest } = view;
  return { ...rest, etaSeconds };
}

/** The same rule as the decider's `canSee`: rider, driver, offered driver, staff. Anyone else: not found. */
export const canSeeView = (actor: Actor, view: RideView) =>
  isStaff(actor) || actor.userId === view.riderId || actor.userId === view.driverId || actor.userId === view.offer?.driverId;
