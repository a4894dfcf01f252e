// The SDK's types come from the server's own route schemas and message builders, imported as
// types only: the client stays free of server code at run time, and cannot drift from it.
import type { Static } from '@sinclair/typebox';
import type * as S from '../../adapters/http/schemas.ts';
import type { LocationMessage } from '../app/messages.ts';
import type { RideStatusMessage, rideOfferMessage, rideOfferWithdrawnMessage } from '../../domain/ride/messages.ts';
import type { Role } from '../../domain/actor.ts';

export type { Role };
export type LatLng = Static<typeof S.LatLng>;
export type RideStatus = 'requested' | 'offered' | 'accepted' | 'arrived' | 'in_progress' | 'completed' | 'cancelled' | 'unmatched';
/** Statuses after which nothing more happens to a ride (rating and payment aside). */
export const FINISHED: ReadonlySet<string> = new Set<RideStatus>(['completed', 'cancelled', 'unmatched']);

export type TokenReply = Static<typeof S.TokenReply>;
export type UserReply = Static<typeof S.UserReply>;
export type ErrorBody = Static<typeof S.ErrorBody>;
export type RideView = Static<typeof S.RideView>;
export type RideRequested = Static<typeof S.RideRequested>;
export type RequestRideBody = Static<typeof S.RequestRideBody>;
export type RatingBody = Static<typeof S.RatingBody>;
export type LocationView = Static<typeof S.LocationView>;
export type TrackReply = Static<typeof S.TrackReply>;
export type ShareReply = Static<typeof S.ShareReply>;
export type LocationPoint = Static<typeof S.Point>;
export type LocationsReply = Static<typeof S.LocationsReply>;
export type AvailabilityReply = Static<typeof S.AvailabilityReply>;
export type NearbyQuery = { lat: number; lng: number; radius?: number; limit?: number };
export type NearbyReply = Static<typeof S.NearbyReply>;
export type ReadyReply = { status: string; checks: Record<string, boolean> };

/** Server → client messages on `/v1/stream` (API.md, "Live stream"). */
export type RideStatusEvent = RideStatusMessage;
export type DriverLocationEvent = LocationMessage;
export type RideOfferEvent = ReturnType<typeof rideOfferMessage>;
/** OFFER_FANOUT > 1: the offer went to another driver who accepted first, or the ride was cancelled. */
export type RideOfferWithdrawnEvent = ReturnType<typeof rideOfferWithdrawnMessage>;
export type StreamError = { type: 'error'; code: string; message: string; rideId?: string };
export type StreamMessage =
  | RideStatusEvent
  | DriverLocationEvent
  | RideOfferEvent
  | RideOfferWithdrawnEvent
  | StreamError
  | { type: 'subscribed' | 'unsubscribed'; rideId: string }
  | { type: 'pong' }
  | { type: 'location.ack'; accepted: number; rejected: number }
  | { type: 'fleet.snapshot' | 'fleet.stats'; [key: string]: unknown };

/** Client → server messages. */
export type ClientMessage =
  | { type: 'subscribe'; rideId: string; after?: string }
  | { type: 'subscribe'; fleet: true }
  | { type: 'unsubscribe'; rideId: string }
  | ({ type: 'location' } & LocationPoint)
  | { type: 'ping' };
