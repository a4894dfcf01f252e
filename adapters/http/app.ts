import fastifyRateLimit from '@fastify/rate-limit';
import fastifyWebsocket from '@fastify/websocket';
import { Ajv } from 'ajv';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifySchemaValidationError, type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import { DomainError } from '../../domain/errors.ts';
import type { Accounts } from '../../domain/ports/accounts.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { DriverCommands } from '../../domain/ports/driver-commands.ts';
import type { DriverQueries } from '../../domain/ports/driver-queries.ts';
import type { FleetQueries } from '../../domain/ports/fleet-snapshot.ts';
import type { LiveFeed } from '../../domain/ports/live-feed.ts';
import type { RideCommands } from '../../domain/ports/ride-commands.ts';
import type { RideQueries } from '../../domain/ports/ride-queries.ts';
import { authPlugin } from './auth.ts';
import { asyncApiDocument } from './asyncapi.ts';
import { frameworkErrors, installErrorHandling } from './errors.ts';
import { registerOpenApi } from './openapi.ts';
import { API_VERSION } from './schemas.ts';
import { authRoutes } from './routes/auth.ts';
import { driverRoutes } from './routes/drivers.ts';
import { opsRoutes } from './routes/ops.ts';
import { rideRoutes } from './routes/rides.ts';
import { streamRoute } from './stream.ts';

/** The inbound ports the HTTP and WebSocket adapters drive: the application's one front door. */
export interface FrontDoor {
  readonly rides: RideCommands;
  readonly rideQueries: RideQueries;
  readonly drivers: DriverCommands;
  readonly driverQueries: DriverQueries;
  readonly fleet: FleetQueries;
  readonly live: LiveFeed;
  readonly accounts: Accounts;
}

export interface AppDeps {
  readonly services: FrontDoor;
  /** The service's clock: socket limits and token expiry count on it. */
  readonly clock: Clock;
  readonly registry: Registry;
  readonly jwtSecret: string;
  readonly tokenTtlSeconds?: number;
  readonly readiness: Record<string, () => Promise<boolean>>;
  readonly maxSocketsPerUser?: number;
  readonly socketMessagesPerSecond?: number;
  readonly bodyLimitBytes?: number;
  /** Requests per user (or per address, before login) per minute; over it, 429 with Retry-After. */
  readonly rateLimitPerMinute?: number;
  /** Extra plugins (the live map) registered after the API. */
  readonly plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
  readonly fastify?: FastifyServerOptions;
  /** pino: every 5xx is logged with its request id. Absent: no logging (tests). */
  readonly logger?: FastifyBaseLogger;
  /** Slow clients: a request (headers and body) must arrive within these, or 408 / closed. */
  readonly timeouts?: { readonly requestMs: number; readonly headersMs: number };
  /** Open connections the server accepts at once; more are refused at accept. */
  readonly maxConnections?: number;
}

/**
 * RFC 3339 date-time that names a real instant on the calendar: no 23:59:60, no 24:00, no 30 February
 * (`Date.parse` rolls 2026-02-30 over to 2 March, so the fields are checked one by one).
 */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;
export function isCalendarDateTime(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const offsetOk = m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59 && offsetOk && Number.isFinite(Date.parse(s));
}
const dateTime = { type: 'string' as const, validate: isCalendarDateTime };

/**
 * Validation. JSON bodies are checked as sent: no coercion (`null`, `true`, `"12"` or `[12]` are not a
 * latitude) and no silent stripping (an unknown field is a 400 that names it). Query strings, params
 * and headers are text by nature, so there numbers are parsed from strings; they must be finite.
 */
function validatorCompiler() {
  const common = { useDefaults: true, allErrors: false, formats: { 'date-time': dateTime } } as const;
  const body = new Ajv({ ...common, coerceTypes: false, removeAdditional: false });
  const text = new Ajv({ ...common, coerceTypes: 'array', removeAdditional: true });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) => {
    if (httpPart === 'body') return body.compile(schema);
    const validate = text.compile(schema);
    // Ajv coerces "Infinity" and "1e400" to Infinity and then skips its range checks: refuse them here.
    const checked = Object.assign((data: unknown) => {
      checked.errors = validate(data) ? null : validate.errors;
      if (checked.errors) return false;
      const where = nonFinite(data, '');
      if (where === null) return true;
      checked.errors = [{ keyword: 'type', instancePath: where, schemaPath: '#', params: { type: 'number' }, message: 'must be a finite number' }];
      return false;
    }, { errors: null as FastifySchemaValidationError[] | null | undefined });
    return checked;
  };
}

/** The path of the first number in `value` that is NaN or infinite, or null. */
function nonFinite(value: unknown, path: string): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : path;
  if (value === null || typeof value !== 'object') return null;
  for (const [key, child] of Object.entries(value)) {
    const found = nonFinite(child, `${path}/${key}`);
    if (found !== null) return found;
  }
  return null;
}

/** Builds the HTTP + WebSocket app without listening: tests `inject`, the server entry `listen`s. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const tokenTtl = deps.tokenTtlSeconds ?? 3600;
  const { services } = deps;
  const timeouts = deps.timeouts ?? { requestMs: 20_000, headersMs: 10_000 };
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    // Requests are not logged one by one; failures are (errors.ts), with the request id.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimitBytes ?? 64 * 1024,
    frameworkErrors,
    requestTimeout: timeouts.requestMs,
    // Node checks these deadlines only every connectionsCheckingInterval (30 s by default): check each second.
    http: { headersTimeout: Math.min(timeouts.headersMs, timeouts.requestMs), requestTimeout: timeouts.requestMs, connectionsCheckingInterval: 1_000 },
    ...deps.fastify,
  });
  if (deps.maxConnections) app.server.maxConnections = deps.maxConnections;
  app.setValidatorCompiler(validatorCompiler());
  installErrorHandling(app);
  // While the app closes, an answer also closes its connection: a request that was in flight when the
  // stop began is answered, and its keep-alive connection does not hold the server open until it idles out.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // The callback form: an async hook costs a promise on every answer, for a flag that is set once.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  await app.register(authPlugin, {
    secret: deps.jwtSecret,
    expiresInSeconds: tokenTtl,
    clock: deps.clock,
    accountExists: (userId) => services.accounts.exists(userId),
  });
  await app.register(fastifyRateLimit, {
    max: deps.rateLimitPerMinute ?? 1_200,
    timeWindow: 60_000,
    // Per user when a valid token names one (verified, so a forged token cannot drain someone else's
    // bucket). Everything else counts against the address: no token, a bad one, a share token (one per
    // ride, so keying on it would buy a fresh budget per ride), and every login whatever it carries.
    keyGenerator: (request) => {
      const header = request.headers.authorization;
      const query = request.query as { access_token?: unknown } | undefined;
      const token = header?.startsWith('Bearer ') ? header.slice(7) : typeof query?.access_token === 'string' ? query.access_token : undefined;
      try {
        if (token) {
          // Verified once per request: requireRole takes these claims rather than checking the HMAC again.
          const claims = app.verifyToken(token);
          if (header?.startsWith('Bearer ')) request.verifiedClaims = claims;
          if (claims.share === undefined && request.routeOptions.url !== '/v1/auth/login') return `user:${claims.sub}`;
        }
      } catch {
        // an invalid token is answered 401 by the route; it counts against the sender's address
      }
      return `ip:${request.ip}`;
    },
    // The contract's shape and code; the plugin has already set Retry-After.
    errorResponseBuilder: (_request, context) =>
      new DomainError('RATE_LIMITED', context.statusCode, `too many requests; retry in ${context.after}`),
    allowList: (request) => request.url === '/healthz' || request.url === '/readyz' || request.url === '/metrics',
  });
  await app.register(fastifyWebsocket, { options: { maxPayload: 16 * 1024 } });
  // Before the routes: it records them as they are added (and refuses one without a response schema).
  await registerOpenApi(app, { version: API_VERSION, asyncApi: asyncApiDocument });
  // Each route group is a plugin given the services it drives; a missing one fails here, at start-up.
  await app.register(authRoutes, { accounts: services?.accounts, expiresIn: tokenTtl });
  await app.register(rideRoutes, { rides: services?.rides, rideQueries: services?.rideQueries, shareTtlSeconds: 6 * 3600 });
  await app.register(driverRoutes, { drivers: services?.drivers, driverQueries: services?.driverQueries });
  await app.register(opsRoutes, { checks: deps.readiness, registry: deps.registry });
  await app.register(streamRoute, {
    live: services?.live,
    drivers: services?.drivers,
    fleet: services?.fleet,
    clock: deps.clock,
    maxSocketsPerUser: deps.maxSocketsPerUser ?? 20,
    messagesPerSecond: deps.socketMessagesPerSecond ?? 50,
  });
  for (const plugin of deps.plugins ?? []) await plugin(app);
  return app;
}
