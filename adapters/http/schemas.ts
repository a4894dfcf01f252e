import { STATUS_CODES } from 'node:http';
import { Type, type TSchema } from '@sinclair/typebox';

/** The contract's version (docs/API.md), named in /openapi.json and /asyncapi.json. */
export const API_VERSION = '1.1.0';

/** JSON Schemas for every route: they validate input and speed up serialisation of output. */
export const LatLng = Type.Object(
  { lat: Type.Number({ minimum: -90, maximum: 90 }), lng: Type.Number({ minimum: -180, maximum: 180 }) },
  { additionalProperties: false, examples: [{ lat: 38.7223, lng: -9.1393 }] },
);
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Iso = Nullable(Type.String());

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
});

/** What each error status means here, with a typical body: the OpenAPI document shows both. */
const ERROR_STATUSES: Record<number, { description: string; code: string; message: string }> = {
  400: { description: 'Bad input: the message names the field. Nothing is appended.', code: 'VALIDATION_ERROR', message: 'body.pickup.lat must be <= 90' },
  401: { description: 'No token, or a token that is invalid or expired.', code: 'UNAUTHORIZED', message: 'a valid bearer token is required' },
  403: { description: 'A valid token without the role this needs.', code: 'FORBIDDEN', message: 'this needs the role driver' },
  404: { description: 'No such ride, or not yours (the same answer: nothing leaks).', code: 'NOT_FOUND', message: 'ride r_1 not found' },
  409: { description: 'Not possible in the current state (an illegal transition, a taken name, an offer that has gone).', code: 'INVALID_TRANSITION', message: 'ride r_1 is completed; cannot cancel' },
  413: { description: 'The body is larger than BODY_LIMIT_BYTES.', code: 'BODY_TOO_LARGE', message: 'Request body is too large' },
  422: { description: 'Well-formed but refused (outside the service area, an Idempotency-Key reused with another body).', code: 'OUTSIDE_SERVICE_AREA', message: 'pickup is outside the service area' },
  429: { description: 'Too many requests (per user, or per address before login); see Retry-After.', code: 'RATE_LIMITED', message: 'too many requests; retry in 1 minute' },
  503: { description: 'A backing service (the log, a store) is unreachable; try again after Retry-After seconds.', code: 'UNAVAILABLE', message: 'a backing service is unreachable; try again shortly' },
};

/** The error body for one status, described and with an example for the OpenAPI document. */
export const errorSchema = (status: number) => {
  const known = ERROR_STATUSES[status];
  if (!known) return ErrorBody;
  const example = { statusCode: status, code: known.code, error: STATUS_CODES[status] ?? 'Error', message: known.message };
  return Type.Object(ErrorBody.properties, { description: known.description, examples: [example] });
};

/** The standard error answers a route may give, so they are documented and serialised fast too. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, errorSchema(c)]));

export const RideParams = Type.Object({ rideId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }) });

export const RideView = Type.Object({
  rideId: Type.String(),
  riderId: Type.String(),
  driverId: Nullable(Type.String()),
  status: Type.String(),
  pickup: LatLng,
  dropoff: LatLng,
  requestedAt: Type.String(),
  acceptedAt: Iso,
  arrivedAt: Iso,
  startedAt: Iso,
  completedAt: Iso,
  cancelledAt: Iso,
  etaSeconds: Nullable(Type.Number()),
  distanceMeters: Nullable(Type.Number()),
  fare: Nullable(Type.Object({ amount: Type.Number(), currency: Type.String() })),
  payment: Nullable(Type.Object({ status: Type.String() })),
  rating: Nullable(Type.Object({ stars: Type.Integer(), comment: Nullable(Type.String()) })),
}, {
  examples: [
    {
      rideId: 'r_Xk3v9Qm2', riderId: 'u_7hT2pLw1', driverId: 'd_Q9sN4bKe', status: 'completed',
      pickup: { lat: 38.7223, lng: -9.1393 }, dropoff: { lat: 38.7369, lng: -9.1427 },
      requestedAt: '2026-01-05T09:00:00.000Z', acceptedAt: '2026-01-05T09:00:04.000Z', arrivedAt: '2026-01-05T09:03:10.000Z',
      startedAt: '2026-01-05T09:03:40.000Z', completedAt: '2026-01-05T09:09:02.000Z', cancelledAt: null,
      etaSeconds: null, distanceMeters: 1712, fare: { amount: 6.2, currency: 'EUR' }, payment: { status: 'captured' }, rating: null,
    },
  ],
});

export const RequestRideBody = Type.Object(
  { pickup: LatLng, dropoff: LatLng },
  { additionalProperties: false, examples: [{ pickup: { lat: 38.7223, lng: -9.1393 }, dropoff: { lat: 38.7369, lng: -9.1427 } }] },
);
export const CancelBody = Type.Union([
  Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
  Type.Null(),
]);
export const RatingBody = Type.Object(
  { stars: Type.Integer({ minimum: 1, maximum: 5 }), comment: Type.Optional(Type.String({ maxLength: 1000 })) },
  { additionalProperties: false },
);

export const Point = Type.Object(
  {
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    lng: Type.Number({ minimum: -180, maximum: 180 }),
    recordedAt: Type.Union([Type.Integer({ minimum: 0 }), Type.String({ format: 'date-time' })]),
    heading: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 360 }))),
    speed: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 150 }))),
    accuracy: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 100_000 }))),
  },
  { additionalProperties: false, examples: [{ lat: 38.723, lng: -9.14, recordedAt: 1767603600000, heading: 90, speed: 8.5, accuracy: 5 }] },
);
export const LocationsBody = Type.Union([
  Point,
  Type.Object({ points: Type.Array(Point, { minItems: 1, maxItems: 100 }) }, { additionalProperties: false }),
]);
export const LocationsReply = Type.Object({
  accepted: Type.Integer(),
  rejected: Type.Integer(),
  rejections: Type.Array(Type.Object({ index: Type.Integer(), code: Type.String(), message: Type.String() })),
});

export const LocationView = Type.Object({
  driverId: Type.String(),
  lat: Type.Number(),
  lng: Type.Number(),
  heading: Nullable(Type.Number()),
  speed: Nullable(Type.Number()),
  recordedAt: Type.String(),
  etaSeconds: Nullable(Type.Number()),
});

/** `POST /v1/auth/login` and `/v1/auth/refresh`. */
export const TokenReply = Type.Object({
  token: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer(),
  userId: Type.String(),
  role: Type.String(),
});
export const LoginBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
export const UserReply = Type.Object({ userId: Type.String(), username: Type.String(), role: Type.String() });

export const RideRequested = Type.Object({ rideId: Type.String(), status: Type.String() });
export const TrackReply = Type.Object({
  rideId: Type.String(),
  points: Type.Array(Type.Object({ lat: Type.Number(), lng: Type.Number(), recordedAt: Type.String() })),
});
export const ShareReply = Type.Object({ token: Type.String(), rideId: Type.String(), expiresIn: Type.Integer() });

export const AvailabilityBody = Type.Object({ available: Type.Boolean() }, { additionalProperties: false });
export const AvailabilityReply = Type.Object({ driverId: Type.String(), available: Type.Boolean(), rideId: Type.Union([Type.String(), Type.Null()]) });
export const NearbyQuery = Type.Object({
  lat: Type.Number({ minimum: -90, maximum: 90 }),
  lng: Type.Number({ minimum: -180, maximum: 180 }),
  radius: Type.Number({ minimum: 1, maximum: 50_000, default: 2_000 }),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
});
export const NearbyReply = Type.Object({
  drivers: Type.Array(Type.Object({ driverId: Type.String(), lat: Type.Number(), lng: Type.Number(), distanceMeters: Type.Number() })),
});

export const Username = Type.String({ minLength: 3, maxLength: 64, pattern: '^[A-Za-z0-9_.@-]+$' });
export const Password = Type.String({ minLength: 8, maxLength: 256 });
