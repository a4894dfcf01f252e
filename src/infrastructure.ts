import type { Config } from './config.ts';
import type { Infrastructure, Logger } from './wiring.ts';
import { getRedisEventLog } from '../adapters/redis/event-log.ts';
import { getKafkaEventLog } from '../adapters/kafka/event-log.ts';

/** Picks the adapters the configuration names. Memory needs nothing: wiring supplies the defaults. */
export async function makeInfrastructure(config: Config, logger: Logger): Promise<Infrastructure> {
  const infra: Infrastructure = {};
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
