import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ROLES, type Role } from '../../../domain/actor.ts';
import { DomainError } from '../../../domain/errors.ts';
import type { Accounts } from '../../../domain/ports/accounts.ts';
import { requireServices } from '../plugin-options.ts';
import { errors, LoginBody, Password, TokenReply, UserReply, Username } from '../schemas.ts';

export interface AuthRoutesOptions {
  readonly accounts: Accounts;
  /** Lifetime of a login token, in seconds (the reply says it). */
  readonly expiresIn: number;
}

/** `/v1/auth/…` and `/v1/users`: the accounts port over HTTP; tokens are signed here. */
export const authRoutes = fp(async (app: FastifyInstance, options: AuthRoutesOptions) => {
  const { accounts, expiresIn } = requireServices('auth routes', options, ['accounts', 'expiresIn']);
  const token = (userId: string, role: Role) => ({
    token: app.jwt.sign({ sub: userId, role }),
    tokenType: 'Bearer' as const,
    expiresIn,
    userId,
    role,
  });

  app.post<{ Body: { username: string; password: string } }>(
    '/v1/auth/login',
    {
      schema: {
        body: LoginBody,
        response: { 200: TokenReply, ...errors(400, 401, 429) },
      },
    },
    async (request) => {
      const user = await accounts.login(request.body.username, request.body.password, request.ip);
      return token(user.userId, user.role);
    },
  );

  /** A fresh token for a still-valid one, so apps stay signed in without storing passwords. */
  app.post(
    '/v1/auth/refresh',
    { preHandler: app.requireRole(), schema: { response: { 200: TokenReply, ...errors(401, 403) } } },
    async (request) => {
      const user = await accounts.findById(request.user.sub);
      if (!user) throw new DomainError('UNAUTHORIZED', 401, 'this account no longer exists');
      return token(user.userId, user.role);
    },
  );

  app.post<{ Body: { username: string; password: string; role: Role } }>(
    '/v1/users',
    {
      preHandler: app.requireRole('admin'),
      schema: {
        body: Type.Object(
          { username: Username, password: Password, role: Type.Union(ROLES.map((r) => Type.Literal(r))) },
          { additionalProperties: false },
        ),
        response: { 201: UserReply, ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const user = await accounts.create(request.body.username, request.body.password, request.body.role);
      return reply.status(201).send(user);
    },
  );
}, { name: 'ridecast-auth-routes', fastify: '5.x', dependencies: ['ridecast-auth'] });
