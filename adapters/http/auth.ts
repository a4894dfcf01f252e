import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Actor, Role } from '../../domain/actor.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import { DomainError } from '../../domain/errors.ts';
import { verifiedTokens } from './verified-tokens.ts';

/** What a token carries: `sub` the user, `role`; a share token also names its one ride. */
export interface TokenClaims {
  sub: string;
  role: Role;
  share?: string;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: TokenClaims;
    user: TokenClaims;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Claims the rate limiter already verified for this request (it runs first), so the HMAC is
     * checked once. Set only for a token from the Authorization header, the one HTTP routes accept.
     */
    verifiedClaims: TokenClaims | null;
  }
  interface FastifyInstance {
    /**
     * The claims of a valid token (signature, HS256, exp, nbf), or it throws. Tokens that passed are
     * remembered (verified-tokens.ts), so a driver's next point costs a map lookup, not an HMAC.
     */
    verifyToken(token: string): TokenClaims;
    /** A preHandler: a valid token of one of these roles, or 401/403. */
    requireRole(...roles: Role[]): RoleCheck;
    /** Throws 401 ACCOUNT_GONE when a valid token names a user the store no longer has (share tokens name none). */
    requireAccount(claims: TokenClaims): Promise<void>;
  }
}

/** The preHandler `requireRole` makes; `roles` (empty: any signed-in user) lets the OpenAPI document name the bearer scheme and roles. */
export type RoleCheck = ((request: FastifyRequest, reply: FastifyReply) => Promise<void>) & { readonly roles: readonly Role[] };

export const actorOf = (request: FastifyRequest): Actor => ({ userId: request.user.sub, role: request.user.role });

export interface AuthOptions {
  readonly secret: string;
  readonly expiresInSeconds: number;
  /** When a remembered token stops being trusted: before its exp on this clock (the service's). */
  readonly clock: Clock;
  /**
   * Whether the account a token names still exists. A token outlives its account when the user store
   * loses data (Redis restarted without persistence): the signature alone must not let it in.
   */
  readonly accountExists?: (userId: string) => Promise<boolean>;
}

/** @fastify/jwt with HS256 only (so `alg: none` and key confusion are refused) and role checks. */
export const authPlugin = fp(async (app: FastifyInstance, options: AuthOptions) => {
  if (!options.secret || options.secret.length < 16) throw new Error('auth: JWT secret must be at least 16 characters');
  await app.register(fastifyJwt, {
    secret: options.secret,
    sign: { algorithm: 'HS256', expiresIn: options.expiresInSeconds },
    // No fast-jwt cache: verifyToken remembers verified tokens in front of it, without hashing each one.
    verify: { algorithms: ['HS256'] },
  });
  const tokens = verifiedTokens<TokenClaims>({ verify: (token) => app.jwt.verify<TokenClaims>(token), clock: options.clock, max: 20_000, ttlMs: 300_000 });
  app.decorate('verifyToken', (token: string) => tokens.claims(token));
  const accountExists = options.accountExists ?? (async () => true);
  app.decorateRequest('verifiedClaims', null);
  app.decorate('requireAccount', async (claims: TokenClaims) => {
    if (claims.share !== undefined) return;
    if (!(await accountExists(claims.sub))) throw new DomainError('ACCOUNT_GONE', 401, 'the account this token names no longer exists; log in again');
  });
  app.decorate('requireRole', (...roles: Role[]): RoleCheck => Object.assign(async (request: FastifyRequest) => {
    try {
      const claims = request.verifiedClaims;
      if (claims) request.user = claims;
      else await request.jwtVerify();
    } catch {
      // Whatever is wrong with it (missing, malformed, forged, expired, not yet valid, another algorithm):
      // 401, one answer. @fastify/jwt lets some fast-jwt errors (FAST_JWT_INVALID_ALGORITHM, FAST_JWT_INACTIVE)
      // through without a status, which would otherwise be a 500.
      throw new DomainError('UNAUTHORIZED', 401, 'a valid bearer token is required');
    }
    // A share token watches one ride over the stream; it opens no HTTP route.
    if (request.user.share !== undefined) throw new DomainError('FORBIDDEN', 403, 'a share token can only watch its ride');
    await app.requireAccount(request.user);
    if (roles.length > 0 && !roles.includes(request.user.role))
      throw new DomainError('FORBIDDEN', 403, `this needs the role ${roles.join(' or ')}`);
  }, { roles }));
}, { name: 'ridecast-auth', fastify: '5.x' });
