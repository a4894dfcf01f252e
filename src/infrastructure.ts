import { Redis } from 'ioredis';
import { getKafkaEventLog } from '../adapters/kafka/event-log.ts';
import { getRedisClaims } from '../adapters/redis/claims.ts';
import { getRedisEventLog } from '../adapters/redis/event-log.ts';
import { getRedisUserStore } from '../adapters/redis/users.ts';
import type { Config } from './config.ts';
import type { Infrastructure, Logger } from './wiring.ts';

/**
 * Picks the adapters the configuration names. Memory needs nothing: wiring supplies the defaults.
 * With Redis, accounts and claims live in Redis too, so every instance shares them.
 */
export async function makeInfrastructure(config: Config, logger: Logger): Promise<Infrastructure> {
  const closers: (() => Promise<unknown>)[] = [];
  const infra: Infrastructure = { close: async () => void (await Promise.all(closers.map((c) => c()))) };
  if (config.redisUrl && config.transport !== 'memory') {
    const redis = new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
    redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
    closers.push(() => redis.quit().catch(() => redis.disconnect()));
    infra.claims = getRedisClaims(redis, config.streamPrefix);
    infra.users = getRedisUserStore(redis, config.streamPrefix);
  }
  if (config.transport === 'redis') {
    infra.log = getRedisEventLog({
      url: config.redisUrl!,
      prefix: config.streamPrefix,
      maxLength: { 'driver-locations': config.locationRetention, rides: config.rideRetention, drivers: config.rideRetention },
      logger,
    });
  }
  if (config.transport === 'kafka') {
    infra.log = getKafkaEventLog({ brokers: config.kafkaBrokers, topicPrefix: config.streamPrefix.replace(/:$/, '.'), logger });
  }
  return infra;
}
