import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import { requireServices } from '../plugin-options.ts';

export interface OpsOptions {
  /** Whether the transport and stores answer; each check names itself in the readiness reply. */
  readonly checks: Record<string, () => Promise<boolean>>;
  readonly registry: Registry;
}

/** `/healthz`, `/readyz`, `/metrics`: for the orchestrator and Prometheus, no token needed. */
export const opsRoutes = fp(async (app: FastifyInstance, options: OpsOptions) => {
  const { checks, registry } = requireServices('ops routes', options, ['checks', 'registry']);
  app.get('/healthz', { schema: { response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

  const ReadyReply = Type.Object({ status: Type.String(), checks: Type.Record(Type.String(), Type.Boolean()) });
  app.get('/readyz', { schema: { response: { 200: ReadyReply, 503: ReadyReply } } }, async (_request, reply) => {
    const results = Object.fromEntries(
      await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          const ok = await Promise.race([check().catch(() => false), new Promise<boolean>((r) => setTimeout(() => r(false), 1_000).unref())]);
          return [name, ok] as const;
        }),
      ),
    );
    const ready = Object.values(results).every(Boolean);
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: results });
  });

  app.get('/metrics', { schema: { response: { 200: Type.String() } } }, async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}, { name: 'ridecast-ops-routes', fastify: '5.x' });
