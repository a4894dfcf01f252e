import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../../domain/errors.ts';
import type { GpsPoint } from '../../../domain/tracking/point.ts';
import type { Ridecast } from '../../../src/app/ridecast.ts';
import { actorOf } from '../auth.ts';
import { AvailabilityBody, AvailabilityReply, errors, LocationsBody, LocationsReply, NearbyQuery, NearbyReply, Point } from '../schemas.ts';

/** Device time may come as epoch ms or an ISO string; the domain takes ms. */
export function toGpsPoint(p: Static<typeof Point>): GpsPoint {
  const recordedAt = typeof p.recordedAt === 'number' ? p.recordedAt : Date.parse(p.recordedAt);
  // The schema's date-time format lets through what `Date.parse` cannot read (a leap second); never pass NaN on.
  if (!Number.isFinite(recordedAt)) throw new DomainError('VALIDATION_ERROR', 400, 'recordedAt is not a valid time');
  return { lat: p.lat, lng: p.lng, recordedAt, heading: p.heading ?? null, speed: p.speed ?? null, accuracy: p.accuracy ?? null };
}

export function driverRoutes(app: FastifyInstance, { ridecast }: { ridecast: Ridecast }) {
  app.put<{ Body: { available: boolean } }>(
    '/v1/drivers/me/availability',
    {
      preHandler: app.requireRole('driver'),
      schema: {
        body: AvailabilityBody,
        response: { 200: AvailabilityReply, ...errors(400, 401, 403) },
      },
    },
    async (request) => ridecast.drivers.setAvailability(actorOf(request), request.body.available),
  );

  app.post<{ Body: Static<typeof LocationsBody> }>(
    '/v1/drivers/me/locations',
    {
      preHandler: app.requireRole('driver'),
      schema: { body: LocationsBody, response: { 202: LocationsReply, ...errors(400, 401, 403, 413, 429) } },
    },
    async (request, reply) => {
      const body = request.body;
      const points = 'points' in body ? body.points.map(toGpsPoint) : [toGpsPoint(body)];
      return reply.status(202).send(await ridecast.locations.ingest(actorOf(request), points));
    },
  );

  app.get<{ Querystring: { lat: number; lng: number; radius: number; limit: number } }>(
    '/v1/drivers/nearby',
    {
      preHandler: app.requireRole('rider', 'admin', 'service'),
      schema: {
        querystring: NearbyQuery,
        response: { 200: NearbyReply, ...errors(400, 401, 403) },
      },
    },
    async ({ query: { lat, lng, radius, limit } }) => ({ drivers: await ridecast.nearby({ lat, lng, radiusMeters: radius, limit }) }),
  );
}
