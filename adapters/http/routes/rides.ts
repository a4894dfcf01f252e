import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { LatLng } from '../../../domain/geo.ts';
import { DomainError, invalidTransition, notFound } from '../../../domain/errors.ts';
import { shareable, toView, type Ride } from '../../../domain/ride/index.ts';
import type { Ridecast } from '../../../src/app/ridecast.ts';
import { actorOf } from '../auth.ts';
import { CancelBody, errors, LocationView, RatingBody, RequestRideBody, RideParams, RideRequested, RideView, ShareReply, TrackReply } from '../schemas.ts';

type Params = { Params: { rideId: string } };

export function rideRoutes(app: FastifyInstance, { ridecast, shareTtlSeconds }: { ridecast: Ridecast; shareTtlSeconds: number }) {
  const { rides, tracker } = ridecast;
  const driverAction = (path: string, act: (actor: ReturnType<typeof actorOf>, rideId: string) => Promise<Ride>) =>
    app.post<Params>(
      `/v1/rides/:rideId/${path}`,
      {
        preHandler: app.requireRole('driver', 'admin'),
        schema: { params: RideParams, response: { 200: RideView, ...errors(401, 403, 404, 409) } },
      },
      async (request) => toView(await act(actorOf(request), request.params.rideId)),
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
    async (request) => {
      const view = await rides.view(actorOf(request), request.params.rideId);
      return toView(view, tracker.latestLocation(view.rideId)?.etaSeconds ?? null);
    },
  );

  app.post<Params & { Body: { reason?: string } | null }>(
    '/v1/rides/:rideId/cancel',
    {
      preHandler: app.requireRole('rider', 'driver', 'admin'),
      schema: { params: RideParams, body: CancelBody, response: { 200: RideView, ...errors(400, 401, 403, 404, 409) } },
    },
    async (request) => toView(await rides.cancel(actorOf(request), request.params.rideId, request.body?.reason ?? null)),
  );

  app.post<Params & { Body: { stars: number; comment?: string } }>(
    '/v1/rides/:rideId/rating',
    {
      preHandler: app.requireRole('rider'),
      schema: { params: RideParams, body: RatingBody, response: { 201: RideView, ...errors(400, 401, 403, 404, 409) } },
    },
    async (request, reply) => {
      const { stars, comment } = request.body;
      return reply.status(201).send(toView(await rides.rate(actorOf(request), request.params.rideId, stars, comment ?? null)));
    },
  );

  driverAction('accept', rides.accept);
  driverAction('decline', rides.decline);
  driverAction('arrive', (actor, rideId) => rides.arrive(actor, rideId));
  driverAction('start', rides.start);
  driverAction('complete', rides.complete);

  app.get<Params>(
    '/v1/rides/:rideId/location',
    { preHandler: app.requireRole(), schema: { params: RideParams, response: { 200: LocationView, ...errors(401, 404) } } },
    async (request) => {
      const view = await rides.view(actorOf(request), request.params.rideId);
      const location = tracker.latestLocation(view.rideId);
      if (!location) throw new DomainError('NO_LOCATION', 404, `no location for ride ${view.rideId} yet`);
      const { type: _t, rideId: _r, eventId: _e, ...rest } = location;
      return rest;
    },
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
    async (request) => {
      const view = await rides.view(actorOf(request), request.params.rideId);
      const points = await ridecast.readModel.track(view.rideId);
      return { rideId: view.rideId, points: points.map((p) => ({ lat: p.lat, lng: p.lng, recordedAt: new Date(p.recordedAt).toISOString() })) };
    },
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
      const view = await rides.view(actorOf(request), request.params.rideId);
      const share = shareable(actorOf(request), view);
      if (share === 'not-theirs') throw notFound(`ride ${view.rideId}`);
      if (share === 'ended') throw invalidTransition(`ride ${view.rideId} is ${view.status}; cannot share it`);
      const token = app.jwt.sign({ sub: `share:${view.rideId}`, role: 'rider', share: view.rideId }, { expiresIn: shareTtlSeconds });
      return reply.status(201).send({ token, rideId: view.rideId, expiresIn: shareTtlSeconds });
    },
  );
}
