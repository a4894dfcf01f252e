import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Actor } from '../../../domain/actor.ts';
import type { LatLng } from '../../../domain/geo.ts';
import type { RideCommands } from '../../../domain/ports/ride-commands.ts';
import type { PublicRide, RideQueries } from '../../../domain/ports/ride-queries.ts';
import { actorOf } from '../auth.ts';
import { requireServices } from '../plugin-options.ts';
import { CancelBody, errors, LocationView, RatingBody, RequestRideBody, RideParams, RideRequested, RideView, ShareReply, TrackReply } from '../schemas.ts';

type Params = { Params: { rideId: string } };

export interface RideRoutesOptions {
  readonly rides: RideCommands;
  readonly rideQueries: RideQueries;
  /** Lifetime of a share token (it also ends with the trip). */
  readonly shareTtlSeconds: number;
}

/** `/v1/rides…`: the ride commands and queries over HTTP. Rules live behind the ports; this maps HTTP to them. */
async function registerRideRoutes(app: FastifyInstance, options: RideRoutesOptions) {
  const { rides, rideQueries, shareTtlSeconds } = requireServices('ride routes', options, ['rides', 'rideQueries', 'shareTtlSeconds']);
  const driverAction = (path: string, act: (actor: Actor, rideId: string) => Promise<PublicRide>) =>
    app.post<Params>(
      `/v1/rides/:rideId/${path}`,
      {
        preHandler: app.requireRole('driver', 'admin'),
        schema: { params: RideParams, response: { 200: RideView, ...errors(401, 403, 404, 409) } },
      },
      async (request) => act(actorOf(request), request.params.rideId),
    );

  app.post<{ Body: { pickup: LatLng; dropoff: LatLng }; Headers: { 'idempotency-key'?: string } }>(
    '/v1/rides',
    {
      preHandler: app.requireRole('rider'),
      schema: {
        body: RequestRideBody,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) }),
        response: { 202: RideRequested, ...errors(400, 401, 403, 409, 422) },
      },
    },
    async (request, reply) => {
      const ride = await rides.request(actorOf(request), request.body, request.headers['idempotency-key']);
      return reply.status(202).send({ rideId: ride.rideId, status: ride.status });
    },
  );

  app.get<Params>(
    '/v1/rides/:rideId',
    { preHandler: app.requireRole(), schema: { params: RideParams, response: { 200: RideView, ...errors(401, 404) } } },
    async (request) => rideQueries.get(actorOf(request), request.params.rideId),
  );

  app.post<Params & { Body: { reason?: string } | null }>(
    '/v1/rides/:rideId/cancel',
    {
      preHandler: app.requireRole('rider', 'driver', 'admin'),
      schema: { params: RideParams, body: CancelBody, response: { 200: RideView, ...errors(400, 401, 403, 404, 409) } },
    },
    async (request) => rides.cancel(actorOf(request), request.params.rideId, request.body?.reason ?? null),
  );

  app.post<Params & { Body: { stars: number; comment?: string } }>(
    '/v1/rides/:rideId/rating',
    {
      preHandler: app.requireRole('rider'),
      schema: { params: RideParams, body: RatingBody, response: { 201: RideView, ...errors(400, 401, 403, 404, 409) } },
    },
    async (request, reply) => {
      const { stars, comment } = request.body;
      return reply.status(201).send(await rides.rate(actorOf(request), request.params.rideId, stars, comment ?? null));
    },
  );

  driverAction('accept', rides.accept);
  driverAction('decline', rides.decline);
  driverAction('arrive', rides.arrive);
  driverAction('start', rides.start);
  driverAction('complete', rides.complete);

  app.get<Params>(
    '/v1/rides/:rideId/location',
    { preHandler: app.requireRole(), schema: { params: RideParams, response: { 200: LocationView, ...errors(401, 404) } } },
    async (request) => rideQueries.location(actorOf(request), request.params.rideId),
  );

  app.get<Params>(
    '/v1/rides/:rideId/track',
    {
      preHandler: app.requireRole(),
      schema: {
        params: RideParams,
        response: { 200: TrackReply, ...errors(401, 404) },
      },
    },
    async (request) => rideQueries.track(actorOf(request), request.params.rideId),
  );

  /** A read-only token for family: it may watch this one ride, and only until the trip ends. */
  app.post<Params>(
    '/v1/rides/:rideId/share',
    {
      preHandler: app.requireRole('rider'),
      schema: {
        params: RideParams,
        response: { 201: ShareReply, ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { rideId } = await rideQueries.shareable(actorOf(request), request.params.rideId);
      const token = app.jwt.sign({ sub: `share:${rideId}`, role: 'rider', share: rideId }, { expiresIn: shareTtlSeconds });
      return reply.status(201).send({ token, rideId, expiresIn: shareTtlSeconds });
    },
  );
}

export const rideRoutes = fp(registerRideRoutes, { name: 'ridecast-ride-routes', fastify: '5.x', dependencies: ['ridecast-auth'] });
