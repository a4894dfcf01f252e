import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { DomainError } from '../../domain/errors.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { DriverCommands } from '../../domain/ports/driver-commands.ts';
import type { FleetQueries } from '../../domain/ports/fleet-snapshot.ts';
import type { LiveFeed, Peer } from '../../domain/ports/live-feed.ts';
import type { TokenClaims } from './auth.ts';
import { requireServices } from './plugin-options.ts';
import { toGpsPoint } from './routes/drivers.ts';
import { Point, RideParams } from './schemas.ts';

const RideId = RideParams.properties.rideId;
/** One schema per message type, so an error names the field of the message the client meant to send. */
export const MESSAGE_SCHEMAS = {
  subscribe: Type.Union([
    Type.Object({ type: Type.Literal('subscribe'), rideId: RideId, after: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) }),
    Type.Object({ type: Type.Literal('subscribe'), fleet: Type.Literal(true) }),
  ]),
  unsubscribe: Type.Object({ type: Type.Literal('unsubscribe'), rideId: RideId }),
  // The same point schema, and the same validator, as `POST /v1/drivers/me/locations`.
  location: Point,
  ping: Type.Object({ type: Type.Literal('ping') }),
  // A fresh token for the same user before the current one expires keeps the socket open.
  auth: Type.Object({ type: Type.Literal('auth'), token: Type.String({ minLength: 1, maxLength: 4096 }) }),
} satisfies Record<string, TSchema>;
type MessageType = keyof typeof MESSAGE_SCHEMAS;
const TYPES = Object.keys(MESSAGE_SCHEMAS) as MessageType[];

type ClientMessage =
  | { type: 'subscribe'; rideId: string; after?: string }
  | { type: 'subscribe'; fleet: true }
  | { type: 'unsubscribe'; rideId: string }
  | ({ type: 'location' } & Static<typeof Point>)
  | { type: 'ping' }
  | { type: 'auth'; token: string };

/** Close code for a socket whose token ran out (4000–4999: the application's own). */
export const TOKEN_EXPIRED_CLOSE = 4401;

export interface StreamOptions {
  /** Who is connected and what each one follows. */
  readonly live: LiveFeed;
  /** A driver's `location` message is ingested like `POST /v1/drivers/me/locations`. */
  readonly drivers: Pick<DriverCommands, 'ingestLocations'>;
  /** The snapshot an operator gets on `{"type":"subscribe","fleet":true}`. */
  readonly fleet: FleetQueries;
  /** The service's clock: the message limiter refills by it and token expiry counts on it, so tests can hold time still. */
  readonly clock: Clock;
  readonly maxSocketsPerUser: number;
  /** Messages a socket may send per second (token bucket, burst of twice that). */
  readonly messagesPerSecond: number;
}

function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7);
  const query = request.query as { access_token?: unknown };
  return typeof query.access_token === 'string' ? query.access_token : undefined;
}

type AjvError = { instancePath?: string; keyword?: string; message?: string; params?: Record<string, unknown> };

/** The HTTP error handler's wording (`body.lat must be <= 90`), with `message` for `body`. */
function describe(errors: readonly AjvError[] | null | undefined): string {
  const first = errors?.[0];
  if (!first) return 'message is invalid';
  const field = `message${first.instancePath ?? ''}`.replace(/\//g, '.');
  const missing = first.keyword === 'required' ? `.${String(first.params?.missingProperty)}` : '';
  return `${field}${missing} ${first.message ?? 'is invalid'}`;
}

/** Compiles a message type's schema with Fastify's own validator (as HTTP bodies are), once per route. */
type CompileValidator = FastifyRequest['compileValidationSchema'];

/**
 * The message checked against its type's schema. The validators are compiled on the first message
 * and kept by the route, so a socket does not hold on to the upgrade request for its lifetime (the
 * request, its raw IncomingMessage and headers were most of a socket's heap).
 */
function makeMessageParser() {
  const validators = new Map<MessageType, ReturnType<CompileValidator>>();
  /** Compiles what is not compiled yet (the first socket does it; the rest find them all). */
  const prime = (request: FastifyRequest) => {
    if (validators.size < TYPES.length) for (const type of TYPES) if (!validators.has(type)) validators.set(type, request.compileValidationSchema(MESSAGE_SCHEMAS[type], 'body'));
  };
  const parse = (raw: unknown): ClientMessage | { error: string; message: string } => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { error: 'VALIDATION_ERROR', message: 'message must be an object' };
    const type = (raw as { type?: unknown }).type;
    if (typeof type !== 'string' || !TYPES.includes(type as MessageType))
      return { error: 'UNKNOWN_TYPE', message: `message.type must be one of ${TYPES.join(', ')}` };
    const validate = validators.get(type as MessageType)!;
    if (type === 'location') {
      const { type: _type, ...point } = raw as Record<string, unknown>;
      if (!validate(point)) return { error: 'VALIDATION_ERROR', message: describe(validate.errors as AjvError[]) };
      return { type: 'location', ...(point as Static<typeof Point>) };
    }
    if (!validate(raw)) return { error: 'VALIDATION_ERROR', message: describe(validate.errors as AjvError[]) };
    return raw as ClientMessage;
  };
  return { prime, parse };
}

/** `GET /v1/stream`: live push and driver ingestion over one WebSocket (API.md, "Live stream"). */
export const streamRoute = fp(async (app: FastifyInstance, options: StreamOptions) => {
  const { live: hub, drivers, fleet, clock } = requireServices('stream route', options, ['live', 'drivers', 'fleet', 'clock', 'maxSocketsPerUser', 'messagesPerSecond']);
  const messages = makeMessageParser();

  app.get(
    '/v1/stream',
    {
      websocket: true,
      schema: { querystring: Type.Object({ access_token: Type.Optional(Type.String({ maxLength: 4096 })) }) },
      preValidation: async (request) => {
        const token = tokenOf(request);
        if (!token) throw new DomainError('UNAUTHORIZED', 401, 'a bearer token or access_token is required');
        try {
          request.user = app.verifyToken(token);
        } catch {
          throw new DomainError('UNAUTHORIZED', 401, 'the token is invalid or expired');
        }
        await app.requireAccount(request.user);
        if (hub.socketsOf(request.user.sub) >= options.maxSocketsPerUser)
          throw new DomainError('TOO_MANY_SOCKETS', 429, `at most ${options.maxSocketsPerUser} sockets per user`);
      },
    },
    (socket: WebSocket, request) => {
      // Taken from the request now: the closures below must not keep the request alive.
      const claims = request.user;
      const log = request.log;
      messages.prime(request);
      let corked = false;
      const peer: Peer = {
        actor: { userId: claims.sub, role: claims.role },
        ...(claims.share !== undefined && { shareRideId: claims.share }),
        send: (m) => {
          // Everything sent to this socket in one tick leaves in one write (ws corks each frame; this
          // cork spans the tick): a batch of events pushes several messages to a fleet watcher at once.
          const raw = (socket as unknown as { _socket?: Socket })._socket;
          if (!corked && raw && !raw.destroyed) {
            corked = true;
            raw.cork();
            process.nextTick(() => {
              corked = false;
              raw.uncork();
            });
          }
          socket.send(m);
        },
        buffered: () => socket.bufferedAmount,
        close: (code, reason) => socket.close(code, reason),
      };
      hub.connect(peer);
      // The socket lives as long as its token: at `exp` it closes, unless an `auth` message moved `exp` on.
      let expiry: NodeJS.Timeout | undefined;
      const expireAt = (exp: number | undefined) => {
        clearTimeout(expiry);
        if (exp === undefined) return;
        const inMs = Math.min(Math.max(0, exp * 1000 - clock.now()), 2 ** 31 - 1);
        expiry = setTimeout(() => socket.close(TOKEN_EXPIRED_CLOSE, 'token expired'), inMs);
        expiry.unref();
      };
      expireAt((claims as TokenClaims & { exp?: number }).exp);
      let tokens = options.messagesPerSecond * 2;
      let refilledAt = clock.now();
      const reply = (m: object) => socket.readyState === socket.OPEN && socket.send(JSON.stringify(m));
      const fail = (code: string, message: string, rideId?: string) => reply({ type: 'error', code, message, ...(rideId && { rideId }) });

      socket.on('message', (raw, isBinary) => {
        const now = clock.now();
        tokens = Math.min(options.messagesPerSecond * 2, tokens + ((now - refilledAt) / 1000) * options.messagesPerSecond);
        refilledAt = now;
        if (tokens < 1) return fail('RATE_LIMITED', `at most ${options.messagesPerSecond} messages per second`);
        tokens -= 1;
        if (isBinary) return fail('INVALID_JSON', 'messages must be JSON text');
        let json: unknown;
        try {
          json = JSON.parse(raw.toString());
        } catch {
          return fail('INVALID_JSON', 'messages must be JSON text');
        }
        const message = messages.parse(json);
        if ('error' in message) return fail(message.error, message.message);
        void handle(message).catch((err: unknown) => {
          const rideId = 'rideId' in message ? message.rideId : undefined;
          if (err instanceof DomainError) return fail(err.code, err.message, rideId);
          log.error({ err }, 'stream message failed');
          fail('INTERNAL', 'something went wrong on our side', rideId);
        });
      });
      socket.on('close', () => (clearTimeout(expiry), hub.disconnect(peer)));
      // What the upgrade leaves behind must not live as long as the socket: @fastify/websocket
      // assigns the upgrade's ServerResponse to the TCP socket (so a hook could still answer in HTTP)
      // and closes over the request and reply in its 'error' listener. Either keeps the request, the
      // reply, their IncomingMessage, ServerResponse and closures alive (a heap snapshot with 2,000
      // riders: 1 of each per socket). The response is detached, and our error listener does what
      // the library's default one does (log, terminate) without them.
      const tcp = (socket as unknown as { _socket?: Socket & { _httpMessage?: ServerResponse | null } })._socket;
      if (tcp?._httpMessage) tcp._httpMessage.detachSocket(tcp);
      socket.removeAllListeners('error');
      socket.on('error', (err) => {
        log.error({ err }, 'stream socket error');
        socket.terminate();
        clearTimeout(expiry);
        hub.disconnect(peer);
      });

      async function handle(m: ClientMessage): Promise<void> {
        switch (m.type) {
          case 'ping':
            return void reply({ type: 'pong' });
          case 'auth': {
            let fresh: TokenClaims & { exp?: number };
            try {
              fresh = app.verifyToken(m.token) as TokenClaims & { exp?: number };
            } catch {
              throw new DomainError('UNAUTHORIZED', 401, 'the token is invalid or expired');
            }
            if (fresh.sub !== claims.sub || fresh.role !== claims.role || fresh.share !== claims.share)
              throw new DomainError('FORBIDDEN', 403, "the token must be the socket's own user's");
            expireAt(fresh.exp);
            return void reply({ type: 'authenticated', expiresAt: fresh.exp === undefined ? null : new Date(fresh.exp * 1000).toISOString() });
          }
          case 'subscribe':
            if ('fleet' in m) return hub.watchFleet(peer, { type: 'fleet.snapshot', ...(await fleet.snapshot()) });
            return hub.subscribe(peer, m.rideId, m.after);
          case 'unsubscribe':
            hub.unsubscribe(peer, m.rideId);
            return void reply({ type: 'unsubscribed', rideId: m.rideId });
          case 'location': {
            if (peer.shareRideId !== undefined) throw new DomainError('FORBIDDEN', 403, 'a share token can only watch');
            const { type: _type, ...point } = m;
            const result = await drivers.ingestLocations(peer.actor, [toGpsPoint(point)]);
            return void reply({ type: 'location.ack', ...result });
          }
        }
      }
    },
  );
}, { name: 'ridecast-stream', fastify: '5.x', dependencies: ['ridecast-auth', '@fastify/websocket'] });
