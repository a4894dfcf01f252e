import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { DomainError } from '../../domain/errors.ts';
import type { Peer } from '../../src/app/live.ts';
import type { Ridecast } from '../../src/app/ridecast.ts';
import type { TokenClaims } from './auth.ts';
import { toGpsPoint } from './routes/drivers.ts';
import { Point } from './schemas.ts';

const RideId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const ClientMessageSchema = Type.Union([
    Type.Object({ type: Type.Literal('subscribe'), rideId: RideId, after: Type.Optional(Type.String({ maxLength: 128 })) }),
    Type.Object({ type: Type.Literal('subscribe'), fleet: Type.Literal(true) }),
    Type.Object({ type: Type.Literal('unsubscribe'), rideId: RideId }),
    Type.Composite([Type.Object({ type: Type.Literal('location') }), Point]),
    Type.Object({ type: Type.Literal('ping') }),
]);
const ClientMessage = TypeCompiler.Compile(ClientMessageSchema);
type ClientMessage = Static<typeof ClientMessageSchema>;

export interface StreamOptions {
  readonly ridecast: Ridecast;
  readonly maxSocketsPerUser: number;
  /** Messages a socket may send per second (token bucket, burst of twice that). */
  readonly messagesPerSecond: number;
  /** The fleet snapshot an operator gets on `{"type":"subscribe","fleet":true}`. */
  readonly fleetSnapshot: () => Promise<Record<string, unknown>>;
}

function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7);
  const query = request.query as { access_token?: unknown };
  return typeof query.access_token === 'string' ? query.access_token : undefined;
}

/** `GET /v1/stream`: live push and driver ingestion over one WebSocket (API.md, "Live stream"). */
export function streamRoute(app: FastifyInstance, options: StreamOptions) {
  const { ridecast } = options;
  const { hub } = ridecast;

  app.get(
    '/v1/stream',
    {
      websocket: true,
      schema: { querystring: Type.Object({ access_token: Type.Optional(Type.String({ maxLength: 4096 })) }) },
      preValidation: async (request) => {
        const token = tokenOf(request);
        if (!token) throw new DomainError('UNAUTHORIZED', 401, 'a bearer token or access_token is required');
        try {
          request.user = app.jwt.verify<TokenClaims>(token);
        } catch {
          throw new DomainError('UNAUTHORIZED', 401, 'the token is invalid or expired');
        }
        if (hub.socketsOf(request.user.sub) >= options.maxSocketsPerUser)
          throw new DomainError('TOO_MANY_SOCKETS', 429, `at most ${options.maxSocketsPerUser} sockets per user`);
      },
    },
    (socket: WebSocket, request) => {
      const claims = request.user;
      const peer: Peer = {
        actor: { userId: claims.sub, role: claims.role },
        ...(claims.share !== undefined && { shareRideId: claims.share }),
        send: (m) => socket.send(m),
        buffered: () => socket.bufferedAmount,
        close: (code, reason) => socket.close(code, reason),
      };
      hub.connect(peer);
      let tokens = options.messagesPerSecond * 2;
      let refilledAt = Date.now();
      const reply = (m: object) => socket.readyState === socket.OPEN && socket.send(JSON.stringify(m));
      const fail = (code: string, message: string, rideId?: string) => reply({ type: 'error', code, message, ...(rideId && { rideId }) });

      socket.on('message', (raw, isBinary) => {
        const now = Date.now();
        tokens = Math.min(options.messagesPerSecond * 2, tokens + ((now - refilledAt) / 1000) * options.messagesPerSecond);
        refilledAt = now;
        if (tokens < 1) return fail('RATE_LIMITED', `at most ${options.messagesPerSecond} messages per second`);
        tokens -= 1;
        let message: unknown;
        try {
          message = isBinary ? undefined : JSON.parse(raw.toString());
        } catch {
          return fail('INVALID_JSON', 'messages must be JSON text');
        }
        if (!ClientMessage.Check(message)) {
          const first = ClientMessage.Errors(message).First();
          return fail('VALIDATION_ERROR', first ? `message${first.path.replace(/\//g, '.')} ${first.message}` : 'unknown message');
        }
        void handle(message).catch((err: unknown) => {
          if (err instanceof DomainError) return fail(err.code, err.message, 'rideId' in message ? message.rideId : undefined);
          request.log.error({ err }, 'stream message failed');
          fail('INTERNAL', 'something went wrong on our side');
        });
      });
      socket.on('close', () => hub.disconnect(peer));
      socket.on('error', () => hub.disconnect(peer));

      async function handle(m: ClientMessage): Promise<void> {
        switch (m.type) {
          case 'ping':
            return void reply({ type: 'pong' });
          case 'subscribe':
            if ('fleet' in m) return hub.watchFleet(peer, { type: 'fleet.snapshot', ...(await options.fleetSnapshot()) });
            return hub.subscribe(peer, m.rideId, m.after);
          case 'unsubscribe':
            hub.unsubscribe(peer, m.rideId);
            return void reply({ type: 'unsubscribed', rideId: m.rideId });
          case 'location': {
            if (peer.shareRideId !== undefined) throw new DomainError('FORBIDDEN', 403, 'a share token can only watch');
            const { type: _type, ...point } = m;
            const result = await ridecast.locations.ingest(peer.actor, [toGpsPoint(point)]);
            return void reply({ type: 'location.ack', ...result });
          }
        }
      }
    },
  );
}
