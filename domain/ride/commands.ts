import type { Actor } from '../actor.ts';
import type { Tariff } from '../fare.ts';
import type { LatLng } from '../geo.ts';

type Command<T extends string, D> = { readonly type: T; readonly data: D };

export type RequestRide = Command<'RequestRide', { rideId: string; riderId: string; pickup: LatLng; dropoff: LatLng; at: number }>;
export type OfferRide = Command<
  'OfferRide',
  {
    rideId: string;
    driverId: string;
    expiresAt: number;
    distanceMeters: number;
    etaSeconds: number;
    /** OFFER_FANOUT: how many offers of one round may be open at once (default 1). */
    fanout?: number;
    at: number;
  }
>;
export type DeclineOffer = Command<'DeclineOffer', { rideId: string; actor: Actor; at: number }>;
export type ExpireOffer = Command<'ExpireOffer', { rideId: string; driverId: string; at: number }>;
/** `driverOnline`: whether the accepting driver is available on their own stream, read before deciding. */
export type AcceptRide = Command<'AcceptRide', { rideId: string; actor: Actor; driverOnline: boolean; at: number }>;
export type ArriveAtPickup = Command<'ArriveAtPickup', { rideId: string; actor: Actor; detected?: boolean; at: number }>;
export type StartTrip = Command<'StartTrip', { rideId: string; actor: Actor; at: number }>;
/** `distanceMeters` is the cleaned track's length, measured outside the domain and passed in as data. */
export type CompleteTrip = Command<'CompleteTrip', { rideId: string; actor: Actor; distanceMeters: number; tariff: Tariff; at: number }>;
export type CancelRide = Command<'CancelRide', { rideId: string; actor: Actor; reason: string | null; at: number }>;
export type MarkUnmatched = Command<'MarkUnmatched', { rideId: string; at: number }>;
export type RecordPayment = Command<
  'RecordPayment',
  { rideId: string; outcome: { captured: true; paymentId: string; amount: number; currency: string } | { captured: false; reason: string }; at: number }
>;
export type RateRide = Command<'RateRide', { rideId: string; actor: Actor; stars: number; comment: string | null; at: number }>;

export type RideCommand =
  | RequestRide
  | OfferRide
  | DeclineOffer
  | ExpireOffer
  | AcceptRide
  | ArriveAtPickup
  | StartTrip
  | CompleteTrip
  | CancelRide
  | MarkUnmatched
  | RecordPayment
  | RateRide;
