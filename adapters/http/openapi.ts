import fastifySwagger, { type SwaggerTransformObject } from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { errorSchema } from './schemas.ts';

/**
 * The API describes itself. `GET /openapi.json` is generated from the very schemas that validate
 * and serialise every route (so it cannot drift from the code); `GET /docs` is Swagger UI, served
 * from node_modules by this process (no CDN); `GET /asyncapi.json` is the WebSocket protocol,
 * kept by hand in docs/asyncapi.json and checked against the messages a real ride produces.
 *
 * Registered before the routes: @fastify/swagger records routes as they are added.
 */
export async function registerOpenApi(app: FastifyInstance, options: { version: string; asyncApi: object }): Promise<void> {
  // Every route declares its answers: a route without a response schema is refused at start-up,
  // so the document (and fast serialisation) covers everything. Static files say `hide`.
  app.addHook('onRoute', (route) => {
    const schema = route.schema as (FastifySchema & { hide?: boolean }) | undefined;
    if (schema?.hide || route.websocket || route.method === 'HEAD') return;
    if (!schema?.response) throw new Error(`route ${String(route.method)} ${route.url} declares no response schema`);
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Ridecast API',
        version: options.version,
        description: [
          'Event-sourced ride-hailing: riders request rides, drivers stream GPS, a matcher pairs them, everyone watches live.',
          'Errors have one shape with a stable `code`. The live stream (`GET /v1/stream`, WebSocket) is described by `GET /asyncapi.json`.',
          'Log in with `POST /v1/auth/login`, then send `Authorization: Bearer <token>`.',
        ].join('\n\n'),
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The `token` from `POST /v1/auth/login` (or `/v1/auth/refresh`).' },
        },
      },
      tags: [
        { name: 'auth', description: 'Log in, refresh, create accounts' },
        { name: 'rides', description: 'Request, follow, act on and rate rides' },
        { name: 'drivers', description: 'Availability, GPS, nearby drivers' },
        { name: 'stream', description: 'The live WebSocket (see /asyncapi.json for its messages)' },
        { name: 'map', description: 'What the live map page loads' },
        { name: 'operations', description: 'Health, readiness, metrics, these documents' },
      ],
    },
    transform: ({ schema, url, route }) => ({ schema: describeRoute(schema, url, route), url }),
    // @fastify/websocket hides its routes from the document; the stream's upgrade is described here by hand.
    transformObject: (document) => {
      const openapi = (document as { openapiObject: { paths?: Record<string, unknown> } }).openapiObject;
      return { ...openapi, paths: { ...openapi.paths, '/v1/stream': STREAM_PATH } } as ReturnType<SwaggerTransformObject>;
    },
  });

  app.get(
    '/openapi.json',
    { schema: { tags: ['operations'], summary: 'This document (OpenAPI 3.1)', response: { 200: { type: 'object', additionalProperties: true } } } },
    async () => app.swagger(),
  );
  app.get(
    '/asyncapi.json',
    { schema: { tags: ['operations'], summary: 'The WebSocket protocol (AsyncAPI 3)', response: { 200: { type: 'object', additionalProperties: true } } } },
    async () => options.asyncApi,
  );
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    // Swagger UI sets a few inline styles; nothing else but this origin (the default allows any https: host).
    staticCSP: true,
    transformStaticCSP: () => DOCS_CSP,
    uiConfig: { deepLinking: true, tryItOutEnabled: false, validatorUrl: null },
  });
}

const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TAGS: [RegExp, string][] = [
  [/^\/v1\/(auth|users)/, 'auth'],
  [/^\/v1\/rides/, 'rides'],
  [/^\/v1\/drivers/, 'drivers'],
  [/^\/v1\/stream/, 'stream'],
  [/^\/v1\/map/, 'map'],
];

/**
 * The route's schema as documented: a tag from its path, the bearer scheme and the roles when it
 * checks a token, and the answers every API route may give besides its own (429 rate limit,
 * 503 backend unreachable).
 */
function describeRoute(schema: FastifySchema, url: string, route: RouteOptions): FastifySchema {
  const documented = { ...(schema as Record<string, unknown>) };
  const tag = TAGS.find(([pattern]) => pattern.test(url))?.[1] ?? 'operations';
  documented.tags ??= [tag];
  const method = [route.method].flat()[0] ?? 'GET';
  documented.summary ??= SUMMARIES[`${method} ${url}`];
  documented.operationId ??= operationId(method, url);
  const roles = rolesOf(route);
  const response = { ...((documented.response as Record<string, unknown> | undefined) ?? {}) };
  if (roles) {
    documented.security = [{ bearer: [] }];
    const who = roles.length === 0 ? 'any signed-in user' : roles.join(' or ');
    documented.description = [documented.description, `Needs a bearer token: ${who}.`].filter(Boolean).join(' ');
    response[401] ??= errorSchema(401);
  }
  if (url.startsWith('/v1/')) {
    response[429] ??= errorSchema(429);
    if (url !== '/v1/map/streets' && url !== '/v1/map/config') response[503] ??= errorSchema(503);
  }
  documented.response = response;
  return documented as FastifySchema;
}

/** The roles a route's `requireRole` preHandler asks for (empty: any user), or undefined when it is public. */
function rolesOf(route: RouteOptions): readonly string[] | undefined {
  const handlers = [route.preHandler].flat().filter(Boolean) as { roles?: readonly string[] }[];
  return handlers.find((h) => Array.isArray(h.roles))?.roles;
}

/** One line per route, for the document's table of contents. */
const SUMMARIES: Record<string, string> = {
  'POST /v1/auth/login': 'Log in: a bearer token',
  'POST /v1/auth/refresh': 'A fresh token for a valid one',
  'POST /v1/users': 'Create an account (admin)',
  'POST /v1/rides': 'Request a ride (rider)',
  'GET /v1/rides/:rideId': 'A ride as it stands',
  'POST /v1/rides/:rideId/cancel': 'Cancel a ride before completion',
  'POST /v1/rides/:rideId/rating': 'Rate a completed ride, once',
  'POST /v1/rides/:rideId/accept': 'Accept the offer (the offered driver)',
  'POST /v1/rides/:rideId/decline': 'Decline the offer (the offered driver)',
  'POST /v1/rides/:rideId/arrive': 'At the pickup (the assigned driver)',
  'POST /v1/rides/:rideId/start': 'Start the trip (the assigned driver)',
  'POST /v1/rides/:rideId/complete': 'Complete the trip: fare and payment follow',
  'GET /v1/rides/:rideId/location': "The driver's latest position (polling fallback)",
  'GET /v1/rides/:rideId/track': "The trip's route, for playback",
  'POST /v1/rides/:rideId/share': 'A read-only token for family, for this ride',
  'PUT /v1/drivers/me/availability': 'Go online or offline (driver)',
  'POST /v1/drivers/me/locations': 'GPS points, one or a batch of up to 100 (driver)',
  'GET /v1/drivers/nearby': 'Available drivers nearest a point',
  'GET /v1/map/streets': "The simulated city's streets (GeoJSON)",
  'GET /v1/map/config': "The map page's tile settings",
  'GET /healthz': 'Liveness',
  'GET /readyz': 'Readiness: the log and the stores answer',
  'GET /metrics': 'Prometheus metrics (text format)',
};

/** `POST /v1/rides/:rideId/accept` → `postRidesAccept`: stable names for generated clients. */
function operationId(method: string, url: string): string {
  const words = url
    .split('/')
    .filter((p) => p && p !== 'v1' && !p.startsWith(':'))
    .flatMap((p) => p.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return [method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join('');
}

/** The WebSocket upgrade, as OpenAPI can say it; its messages are in /asyncapi.json. */
const STREAM_PATH = {
  get: {
    tags: ['stream'],
    summary: 'The live stream (WebSocket upgrade)',
    operationId: 'getStream',
    description:
      'Upgrade to a WebSocket (`Connection: Upgrade`, `Upgrade: websocket`). The token travels in the Authorization header or, for browsers, as `access_token`. ' +
      'The messages both ways are described by the AsyncAPI 3 document at [/asyncapi.json](/asyncapi.json).',
    security: [{ bearer: [] }, {}],
    parameters: [
      { in: 'query', name: 'access_token', required: false, description: 'The bearer token, for clients that cannot set headers.', schema: { type: 'string', maxLength: 4096 } },
    ],
    responses: {
      101: { description: 'Switching Protocols: the socket is open.' },
      401: responseOf(401),
      429: { ...responseOf(429), description: 'Too many sockets for this user (TOO_MANY_SOCKETS, MAX_SOCKETS_PER_USER).' },
    },
  },
};

function responseOf(status: number) {
  const schema = errorSchema(status) as { description?: string; examples?: unknown[] };
  return { description: schema.description ?? String(status), content: { 'application/json': { schema, example: schema.examples?.[0] } } };
}
