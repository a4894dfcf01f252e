import type { LatLng } from '../geo.ts';
import type { RideEvent } from './events.ts';

export type RideStatus = 'requested' | 'offered' | 'accepted' | 'arrived' | 'in_progress' | 'completed' | 'cancelled' | 'unmatched';
export const FINAL_STATUSES: ReadonlySet<RideStatus> = new Set(['completed', 'cancelled', 'unmatched']);

export interface Offer {
  readonly driverId: string;
  readonly expiresAt: number;
}

export interface Ride {
  readonly status: RideStatus;
  readonly rideId: string;
  readonly riderId: string;
  readonly pickup: LatLng;
  readonly dropoff: LatLng;
  readonly driverId: string | null;
  readonly offer: Offer | null;
  /** Drivers who declined or let an offer expire: matching skips them for this ride. */
  readonly passedBy: readonly string[];
  readonly rounds: number;
  readonly startedAt: number | null;
  readonly payment: 'pending' | 'captured' | 'failed' | null;
  readonly rated: boolean;
}

export type RideState = { readonly status: 'none' } | Ride;

export const initialState = (): RideState => ({ status: 'none' });

/** Folds one event into the state. Pure; never throws on a recorded event. */
export function evolve(state: RideState, event: RideEvent): RideState {
  if (event.type === 'RideRequested') {
    const { rideId, riderId, pickup, dropoff } = event.data;
    return {
      status: 'requested', rideId, riderId, pickup, dropoff,
      driverId: null, offer: null, passedBy: [], rounds: 0, startedAt: null, payment: null, rated: false,
    };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'RideOffered':
      return { ...state, status: 'offered', offer: { driverId: event.data.driverId, expiresAt: event.data.expiresAt }, rounds: event.data.round };
    case 'OfferDeclined':
    case 'OfferExpired':
      return { ...state, status: 'requested', offer: null, passedBy: [...state.passedBy, event.data.driverId] };
    case 'RideAccepted':
      return { ...state, status: 'accepted', offer: null, driverId: event.data.driverId };
    case 'DriverArrived':
      return { ...state, status: 'arrived' };
    case 'TripStarted':
      return { ...state, status: 'in_progress', startedAt: event.data.at };
    case 'TripCompleted':
      return { ...state, status: 'completed', payment: 'pending' };
    case 'RideCancelled':
      return { ...state, status: 'cancelled', offer: null };
    case 'RideUnmatched':
      return { ...state, status: 'unmatched', offer: null };
    case 'FareCalculated':
      return state;
    case 'PaymentCaptured':
      return { ...state, payment: 'captured' };
    case 'PaymentFailed':
      return { ...state, payment: 'failed' };
    case 'RideRated':
      return { ...state, rated: true };
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}
