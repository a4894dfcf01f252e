import type { Event } from '../ports/event-log.ts';
import type { LatLng } from '../geo.ts';

/** Times are epoch ms (`at`); the view renders them as ISO strings. */
export type RideRequested = Event<'RideRequested', { rideId: string; riderId: string; pickup: LatLng; dropoff: LatLng; at: number }>;
export type RideOffered = Event<
  'RideOffered',
  { rideId: string; driverId: string; expiresAt: number; distanceMeters: number; etaSeconds: number; round: number; at: number }
>;
export type OfferDeclined = Event<'OfferDeclined', { rideId: string; driverId: string; at: number }>;
export type OfferExpired = Event<'OfferExpired', { rideId: string; driverId: string; at: number }>;
/**
 * With offer fan-out (several open offers for one ride): an open offer taken back, not refused by
 * its driver. `accepted`: another driver accepted first; `cancelled`: the ride was cancelled.
 * Appended before the RideAccepted / RideCancelled it makes way for, in the same append.
 */
export type OfferWithdrawn = Event<'OfferWithdrawn', { rideId: string; driverId: string; reason: 'accepted' | 'cancelled'; at: number }>;
export type RideAccepted = Event<'RideAccepted', { rideId: string; driverId: string; at: number }>;
export type DriverArrived = Event<'DriverArrived', { rideId: string; driverId: string; detected: boolean; at: number }>;
export type TripStarted = Event<'TripStarted', { rideId: string; driverId: string; at: number }>;
export type TripCompleted = Event<
  'TripCompleted',
  { rideId: string; driverId: string; distanceMeters: number; durationSeconds: number; at: number }
>;
export type RideCancelled = Event<'RideCancelled', { rideId: string; by: 'rider' | 'driver' | 'admin' | 'system'; reason: string | null; at: number }>;
export type RideUnmatched = Event<'RideUnmatched', { rideId: string; rounds: number; at: number }>;
export type FareCalculated = Event<
  'FareCalculated',
  { rideId: string; amount: number; currency: string; distanceMeters: number; durationSeconds: number; at: number }
>;
export type PaymentCaptured = Event<'PaymentCaptured', { rideId: string; paymentId: string; amount: number; currency: string; at: number }>;
export type PaymentFailed = Event<'PaymentFailed', { rideId: string; reason: string; at: number }>;
export type RideRated = Event<'RideRated', { rideId: string; stars: number; comment: string | null; at: number }>;

export type RideEvent =
  | RideRequested
  | RideOffered
  | OfferDeclined
  | OfferExpired
  | OfferWithdrawn
  | RideAccepted
  | DriverArrived
  | TripStarted
  | TripCompleted
  | RideCancelled
  | RideUnmatched
  | FareCalculated
  | PaymentCaptured
  | PaymentFailed
  | RideRated;
