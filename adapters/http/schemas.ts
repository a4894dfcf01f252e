import { Type, type TSchema } from '@sinclair/typebox';

/** JSON Schemas for every route: they validate input and speed up serialisation of output. */
export const LatLng = Type.Object(
  { lat: Type.Number({ minimum: -90, maximum: 90 }), lng: Type.Number({ minimum: -180, maximum: 180 }) },
  { additionalProperties: false },
);
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Iso = Nullable(Type.String());

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
});

/** The standard error answers a route may give, so they are documented and serialised fast too. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorBody]));

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
});

export const RequestRideBody = Type.Object({ pickup: LatLng, dropoff: LatLng }, { additionalProperties: false });
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
  { additionalProperties: false },
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
