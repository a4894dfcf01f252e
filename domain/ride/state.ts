import type { LatLng } from '../geo.ts';
import type { Recorded } from '../ports/event-log.ts';
import type { RideEvent } from './events.ts';

export type RideStatus = 'requested' | 'offered' | 'accepted' | 'arrived' | 'in_progress' | 'completed' | 'cancelled' | 'unmatched';
export const FINAL_STATUSES: ReadonlySet<RideStatus> = new Set(['completed', 'cancelled', 'unmatched']);

export interface Offer {
  readonly driverId: string;
  readonly expiresAt: number;
}

/**
 * A ride as its events leave it: the one fold every consumer reads. The decider decides on it, the
 * API shows it (`toView`), the socket describes each event with it (`rideStatusMessage`), the read
 * models store it and `visibility` judges who may see it. Times are epoch ms.
 */
export interface Ride {
  readonly status: RideStatus;
  readonly rideId: string;
  readonly riderId: string;
  readonly pickup: LatLng;
  readonly dropoff: LatLng;
  /** The assigned driver, from acceptance on. */
  readonly driverId: string | null;
  /** The open offer: the driver it went to may take it (and see the ride) while it lasts. With fan-out, the first of `offers`. */
  readonly offer: Offer | null;
  /** Every open offer (OFFER_FANOUT > 1: several at once, each to its own held driver). */
  readonly offers: readonly Offer[];
  /** Drivers whose open offer was withdrawn (another accepted first, or the ride was cancelled). */
  readonly withdrawn: readonly string[];
  /** Drivers who declined or let an offer expire: matching skips them for this ride. */
  readonly passedBy: readonly string[];
  /**
   * The driver whose offer the latest event ended without acceptance (declined, expired, or the ride
   * cancelled while offered to them): they see that event and nothing after it.
   */
  readonly offerEndedFor: string | null;
  readonly rounds: number;
  readonly requestedAt: number;
  readonly acceptedAt: number | null;
  readonly arrivedAt: number | null;
  readonly startedAt: number | null;
  readonly completedAt: number | null;
  readonly cancelledAt: number | null;
  /** The trip's measured length, once completed. */
  readonly distanceMeters: number | null;
  readonly fare: { readonly amount: number; readonly currency: string } | null;
  readonly payment: 'pending' | 'captured' | 'failed' | null;
  readonly rating: { readonly stars: number; readonly comment: string | null } | null;
  /** Events folded so far: the log's version of the ride after the last of them (1, 2, …). */
  readonly version: number;
}

export type RideState = { readonly status: 'none' } | Ride;

export const initialState = (): RideState => ({ status: 'none' });

/** Folds one event into the state. Pure; never throws on a recorded event. */
export function evolve(state: RideState, event: RideEvent): RideState {
  if (event.type === 'RideRequested') {
    const { rideId, riderId, pickup, dropoff, at } = event.data;
    return {
      status: 'requested', rideId, riderId, pickup, dropoff, driverId: null, offer: null, offers: [], withdrawn: [], passedBy: [], offerEndedFor: null,
      rounds: 0, requestedAt: at, acceptedAt: null, arrivedAt: null, startedAt: null, completedAt: null, cancelledAt: null,
      distanceMeters: null, fare: null, payment: null, rating: null, version: state.status === 'none' ? 1 : state.version + 1,
    };
  }
  if (state.status === 'none') return state;
  const ride: Ride = { ...state, offerEndedFor: null, version: state.version + 1 };
  switch (event.type) {
    case 'RideOffered': {
      const { driverId, expiresAt } = event.data;
      const offers = [...ride.offers.filter((o) => o.driverId !== driverId), { driverId, expiresAt }];
      return { ...ride, status: 'offered', offer: offers[0]!, offers, rounds: event.data.round };
    }
    case 'OfferDeclined':
    case 'OfferExpired': {
      const { driverId } = event.data;
      const offers = ride.offers.filter((o) => o.driverId !== driverId);
      return { ...ride, status: offers.length ? 'offered' : 'requested', offer: offers[0] ?? null, offers, passedBy: [...ride.passedBy, driverId], offerEndedFor: driverId };
    }
    case 'OfferWithdrawn': {
      const { driverId } = event.data;
      const offers = ride.offers.filter((o) => o.driverId !== driverId);
      return { ...ride, status: offers.length ? 'offered' : 'requested', offer: offers[0] ?? null, offers, withdrawn: [...ride.withdrawn, driverId], offerEndedFor: driverId };
    }
    case 'RideAccepted':
      return { ...ride, status: 'accepted', offer: null, offers: [], driverId: event.data.driverId, acceptedAt: event.data.at };
    case 'DriverArrived':
      return { ...ride, status: 'arrived', arrivedAt: event.data.at };
    case 'TripStarted':
      return { ...ride, status: 'in_progress', startedAt: event.data.at };
    case 'TripCompleted':
      return { ...ride, status: 'completed', completedAt: event.data.at, distanceMeters: event.data.distanceMeters, payment: 'pending' };
    case 'RideCancelled':
      return { ...ride, status: 'cancelled', offer: null, offers: [], offerEndedFor: state.offer?.driverId ?? null, cancelledAt: event.data.at };
    case 'RideUnmatched':
      return { ...ride, status: 'unmatched', offer: null, offers: [], offerEndedFor: state.offer?.driverId ?? null };
    case 'FareCalculated':
      return { ...ride, fare: { amount: event.data.amount, currency: event.data.currency } };
    case 'PaymentCaptured':
      return { ...ride, payment: 'captured' };
    case 'PaymentFailed':
      return { ...ride, payment: 'failed' };
    case 'RideRated':
      return { ...ride, rating: { stars: event.data.stars, comment: event.data.comment } };
    default:
      // A type this version does not know (written by a newer one): counted in the version, otherwise ignored.
      event satisfies never;
      return ride;
  }
}

/** Each event of a ride's history with the ride as it left it (events before the ride's request, in a trimmed log, are left out). */
export function foldRide<E extends RideEvent>(history: readonly Recorded<E>[]): { event: Recorded<E>; ride: Ride }[] {
  let state: RideState = initialState();
  const folded: { event: Recorded<E>; ride: Ride }[] = [];
  for (const event of history) {
    state = evolve(state, event);
    if (state.status !== 'none') folded.push({ event, ride: state });
  }
  return folded;
}
