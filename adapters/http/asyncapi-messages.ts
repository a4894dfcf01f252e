import { Type, type TSchema } from '@sinclair/typebox';
import type { RideEvent } from '../../domain/ride/events.ts';
import { LatLng, LocationsReply, Point } from './schemas.ts';
import { MESSAGE_SCHEMAS } from './stream.ts';

/** The socket's messages, each with its schema and an example: the AsyncAPI document (asyncapi.ts) is built from these. */

/** Every ride event's name; `satisfies` makes the compiler check the list against the event union. */
const RIDE_EVENT_TYPES = Object.keys({ RideRequested: 0, RideOffered: 0, OfferDeclined: 0, OfferExpired: 0, OfferWithdrawn: 0, RideAccepted: 0, DriverArrived: 0, TripStarted: 0, TripCompleted: 0, RideCancelled: 0, RideUnmatched: 0, FareCalculated: 0, PaymentCaptured: 0, PaymentFailed: 0, RideRated: 0 } satisfies Record<RideEvent['type'], 0>);

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Iso = Type.String({ format: 'date-time' });
const RideId = Type.String({ minLength: 1 });
const EventId = Type.String({ minLength: 1, description: 'The event this message stems from: send it back as `after` to resume.' });
const STATUSES = ['requested', 'offered', 'accepted', 'arrived', 'in_progress', 'completed', 'cancelled', 'unmatched'];
const Status = Type.Union(STATUSES.map((s) => Type.Literal(s)));
const strict = { additionalProperties: false } as const;

export const serverMessages: Record<string, { summary: string; payload: TSchema; example: object }> = {
  subscribed: {
    summary: 'The subscription is open; a replay (with `after`) or the current state follows.',
    payload: Type.Object({ type: Type.Literal('subscribed'), rideId: RideId }, strict),
    example: { type: 'subscribed', rideId: 'r_Xk3v9Qm2' },
  },
  unsubscribed: {
    summary: 'Answers `unsubscribe`; also sent when the server ends a subscription (a driver who declined, a share token whose trip ended).',
    payload: Type.Object({ type: Type.Literal('unsubscribed'), rideId: RideId }, strict),
    example: { type: 'unsubscribed', rideId: 'r_Xk3v9Qm2' },
  },
  error: {
    summary:
      'A message that could not be served. Codes: NOT_FOUND, FORBIDDEN, SHARE_EXPIRED, VALIDATION_ERROR, INVALID_JSON, UNKNOWN_TYPE, RATE_LIMITED, REPLAY_GAP (reload the ride: the current state follows), and the HTTP API\'s codes for a driver\'s points.',
    payload: Type.Object(
      { type: Type.Literal('error'), code: Type.String({ pattern: '^[A-Z][A-Z_]*$' }), message: Type.String(), rideId: Type.Optional(RideId) },
      strict,
    ),
    example: { type: 'error', code: 'VALIDATION_ERROR', message: 'message.lat must be <= 90' },
  },
  authenticated: {
    summary: 'Answers `auth`: the socket now runs on the fresh token, until `expiresAt` (a socket whose token expires is closed with 4401).',
    payload: Type.Object({ type: Type.Literal('authenticated'), expiresAt: Nullable(Iso) }, strict),
    example: { type: 'authenticated', expiresAt: '2026-01-05T10:00:00.000Z' },
  },
  pong: {
    summary: 'Answers `ping`.',
    payload: Type.Object({ type: Type.Literal('pong') }, strict),
    example: { type: 'pong' },
  },
  'ride.status': {
    summary:
      'A ride event: `status` is where it leaves the ride, `event` what happened; the event\'s own fields ride along, with the ride\'s pickup, dropoff and assigned driver.',
    payload: Type.Object(
      {
        type: Type.Literal('ride.status'),
        rideId: RideId,
        status: Status,
        event: Type.Union([...RIDE_EVENT_TYPES].map((t) => Type.Literal(t))),
        eventId: EventId,
        at: Iso,
        pickup: Type.Optional(LatLng),
        dropoff: Type.Optional(LatLng),
        driverId: Type.Optional(Nullable(Type.String())),
        riderId: Type.Optional(Type.String()),
        // RideOffered (to the offered driver and operators; who it went to is not told to the rider)
        expiresAt: Type.Optional(Type.Number({ description: 'epoch ms' })),
        round: Type.Optional(Type.Integer()),
        distanceMeters: Type.Optional(Type.Number()),
        etaSeconds: Type.Optional(Type.Number()),
        // DriverArrived
        detected: Type.Optional(Type.Boolean({ description: 'true when arrival was detected from GPS' })),
        // TripCompleted, FareCalculated
        durationSeconds: Type.Optional(Type.Number()),
        // FareCalculated, PaymentCaptured
        amount: Type.Optional(Type.Number()),
        currency: Type.Optional(Type.String()),
        paymentId: Type.Optional(Type.String()),
        // RideCancelled, PaymentFailed
        by: Type.Optional(Type.Union(['rider', 'driver', 'admin', 'system'].map((b) => Type.Literal(b)))),
        reason: Type.Optional(Nullable(Type.String())),
        // RideUnmatched
        rounds: Type.Optional(Type.Integer()),
        // RideRated
        stars: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
        comment: Type.Optional(Nullable(Type.String())),
      },
      strict,
    ),
    example: {
      type: 'ride.status', rideId: 'r_Xk3v9Qm2', status: 'accepted', event: 'RideAccepted', eventId: 'rides:1767603604000-0',
      at: '2026-01-05T09:00:04.000Z', pickup: { lat: 38.7223, lng: -9.1393 }, dropoff: { lat: 38.7369, lng: -9.1427 }, driverId: 'd_Q9sN4bKe',
    },
  },
  'driver.location': {
    summary: 'Where the driver is (smoothed live; as recorded, with heading, speed and ETA null, in a replay).',
    payload: Type.Object(
      {
        type: Type.Literal('driver.location'),
        rideId: Nullable(RideId),
        driverId: Type.String(),
        lat: Type.Number({ minimum: -90, maximum: 90 }),
        lng: Type.Number({ minimum: -180, maximum: 180 }),
        heading: Nullable(Type.Number()),
        speed: Nullable(Type.Number()),
        recordedAt: Iso,
        etaSeconds: Nullable(Type.Number()),
        eventId: EventId,
      },
      strict,
    ),
    example: {
      type: 'driver.location', rideId: 'r_Xk3v9Qm2', driverId: 'd_Q9sN4bKe', lat: 38.7231, lng: -9.1398, heading: 92, speed: 8.4,
      recordedAt: '2026-01-05T09:01:00.000Z', etaSeconds: 95, eventId: 'driver-locations:1767603660000-0',
    },
  },
  'ride.offer': {
    summary: 'An offer for the connected driver (no subscription needed); answer with POST /v1/rides/{rideId}/accept or /decline before `expiresAt`.',
    payload: Type.Object(
      {
        type: Type.Literal('ride.offer'),
        rideId: RideId,
        pickup: LatLng,
        dropoff: LatLng,
        distanceMeters: Type.Number(),
        etaSeconds: Type.Number(),
        expiresAt: Iso,
        eventId: EventId,
      },
      strict,
    ),
    example: {
      type: 'ride.offer', rideId: 'r_Xk3v9Qm2', pickup: { lat: 38.7223, lng: -9.1393 }, dropoff: { lat: 38.7369, lng: -9.1427 },
      distanceMeters: 640, etaSeconds: 110, expiresAt: '2026-01-05T09:00:17.000Z', eventId: 'rides:1767603602000-0',
    },
  },
  'ride.offer.withdrawn': {
    summary:
      'An open offer for the connected driver was taken back (OFFER_FANOUT > 1: `accepted`, another driver accepted first; `cancelled`, the ride was cancelled). No subscription needed; nothing more of that ride follows, and accepting it answers 409 OFFER_EXPIRED.',
    payload: Type.Object(
      {
        type: Type.Literal('ride.offer.withdrawn'),
        rideId: RideId,
        reason: Type.Union([Type.Literal('accepted'), Type.Literal('cancelled')]),
        at: Iso,
        eventId: EventId,
      },
      strict,
    ),
    example: { type: 'ride.offer.withdrawn', rideId: 'r_Xk3v9Qm2', reason: 'accepted', at: '2026-01-05T09:00:04.000Z', eventId: 'rides:1767603604000-0' },
  },
  'location.ack': {
    summary: 'Answers a driver\'s `location`: accepted and rejected counts, and why a point was refused.',
    payload: Type.Composite([Type.Object({ type: Type.Literal('location.ack') }), LocationsReply], strict),
    example: { type: 'location.ack', accepted: 1, rejected: 0, rejections: [] },
  },
  'fleet.snapshot': {
    summary: 'Operators: every positioned driver and every active ride, once, on `{"type":"subscribe","fleet":true}`.',
    payload: Type.Object(
      {
        type: Type.Literal('fleet.snapshot'),
        drivers: Type.Array(
          Type.Object(
            {
              driverId: Type.String(),
              lat: Type.Number(),
              lng: Type.Number(),
              status: Type.Union([Type.Literal('available'), Type.Literal('on_trip'), Type.Literal('offline')]),
            },
            strict,
          ),
        ),
        rides: Type.Array(
          Type.Object({ rideId: RideId, status: Status, pickup: LatLng, dropoff: LatLng, driverId: Nullable(Type.String()) }, strict),
        ),
      },
      strict,
    ),
    example: { type: 'fleet.snapshot', drivers: [{ driverId: 'd_Q9sN4bKe', lat: 38.7231, lng: -9.1398, status: 'available' }], rides: [] },
  },
  'fleet.stats': {
    summary: 'Operators: counts and rates, every 2 s while watching the fleet.',
    payload: Type.Object(
      {
        type: Type.Literal('fleet.stats'),
        driversOnline: Type.Integer({ minimum: 0 }),
        driversOnTrip: Type.Integer({ minimum: 0 }),
        activeRides: Type.Integer({ minimum: 0 }),
        ridesCompleted: Type.Integer({ minimum: 0 }),
        locationsPerSecond: Type.Number({ minimum: 0 }),
        matchRate: Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], { description: 'share of decided rides (matched or unmatched) that got a driver (null before any)' }),
        meanPickupSeconds: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { description: 'mean seconds from acceptance to the driver at the pickup, over recent pickups (null before any)' }),
      },
      strict,
    ),
    example: { type: 'fleet.stats', driversOnline: 64, driversOnTrip: 12, activeRides: 15, ridesCompleted: 230, locationsPerSecond: 75, matchRate: 0.96, meanPickupSeconds: 184 },
  },
};

export const clientMessages: Record<string, { summary: string; payload: TSchema; example: object }> = {
  subscribe: {
    summary: 'Watch a ride (its rider, its driver, the driver it is offered to, an operator, a share token); with `after`, first replay what was missed. Operators: `{"type":"subscribe","fleet":true}`.',
    payload: MESSAGE_SCHEMAS.subscribe,
    example: { type: 'subscribe', rideId: 'r_Xk3v9Qm2', after: 'rides:1767603604000-0' },
  },
  unsubscribe: {
    summary: 'Stop watching a ride.',
    payload: MESSAGE_SCHEMAS.unsubscribe,
    example: { type: 'unsubscribe', rideId: 'r_Xk3v9Qm2' },
  },
  location: {
    summary: 'Drivers: one GPS point over the socket (the same rules as POST /v1/drivers/me/locations); answered by `location.ack`.',
    payload: Type.Composite([Type.Object({ type: Type.Literal('location') }), Point], strict),
    example: { type: 'location', lat: 38.7231, lng: -9.1398, recordedAt: 1767603660000, speed: 8.4 },
  },
  ping: {
    summary: 'Keep-alive; answered by `pong`.',
    payload: MESSAGE_SCHEMAS.ping,
    example: { type: 'ping' },
  },
  auth: {
    summary: 'A fresh token for this socket (from POST /v1/auth/refresh), before the current one expires; answered by `authenticated`.',
    payload: MESSAGE_SCHEMAS.auth,
    example: { type: 'auth', token: 'eyJhbGciOiJIUzI1NiJ9…' },
  },
};
