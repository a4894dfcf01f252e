import type { AttemptCounter } from '../../domain/ports/attempts.ts';
import type { Claims } from '../../domain/ports/claims.ts';
import { getRedisAttemptCounter } from './attempts.ts';
import type { UserStore } from '../../domain/ports/users.ts';
import { getRedisClaims } from './claims.ts';
import { openRedis, type RedisClient, type RedisEndpoint } from './connection.ts';
import { getRedisUserStore } from './users.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { Logger as PortLogger } from '../../domain/ports/logger.ts';

/**
 * Accounts, claims and login attempt counters on one Redis connection (or one cluster client), shared by
 * every instance. Requests fail fast (one retry, a command timeout) while Redis is down or frozen, so the
 * API answers 503 instead of hanging. `target`: a `redis://` URL, or an endpoint (one server or a cluster).
 */
export function getRedisStores(
  target: string | RedisEndpoint,
  prefix: string,
  logger: Pick<PortLogger, 'warn'>,
  { commandTimeoutMs = 2_000, client, clock }: { commandTimeoutMs?: number; client?: RedisClient; clock?: Clock } = {},
) {
  // A frozen server (no answer at all) fails a command after commandTimeoutMs; a refused connection after one retry.
  // Or `client`, a fail-fast connection shared with the GPS path (src/infrastructure.ts), not closed here.
  const redis = client ?? openRedis(typeof target === 'string' ? { url: target } : target, { maxRetriesPerRequest: 1, commandTimeout: commandTimeoutMs });
  if (!client) redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  const claims: Claims = getRedisClaims(redis, prefix);
  const users: UserStore = getRedisUserStore(redis, prefix, clock ? { clock } : {});
  const attempts: AttemptCounter = getRedisAttemptCounter(redis, prefix);
  return { claims, users, attempts, close: async () => void (client ? undefined : await redis.quit().catch(() => redis.disconnect())) };
}
