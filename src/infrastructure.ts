import { getKafkaEventLog } from '../adapters/kafka/event-log.ts';
import { getMongoReadModel } from '../adapters/mongo/read-model.ts';
import { makeRedisGeoProjection } from '../projections/geo/redis-geo.ts';
import { getRedisEventLog } from '../adapters/redis/event-log.ts';
import type { RedisEndpoint } from '../adapters/redis/connection.ts';
import { probeRedis } from '../adapters/redis/probe.ts';
import { getRedisStores } from '../adapters/redis/stores.ts';
import { ConfigError, type Config } from './config.ts';
import type { Infrastructure, Logger } from './wiring.ts';

/**
 * Picks the adapters the configuration names. Memory needs nothing: wiring supplies the defaults.
 * With Redis, accounts and claims live in Redis too, so every instance shares them.
 */
export async function makeInfrastructure(config: Config, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<Infrastructure> {
  const knobs = transportKnobs(env);
  const closers: (() => Promise<unknown>)[] = [];
  const infra: Infrastructure = { close: async () => void (await Promise.all(closers.map((c) => c()))) };
  // A wrong REDIS_URL is one line naming it, before any client starts retrying and logging.
  if (config.redisUrl && config.transport !== 'memory') {
    const problem = await probeRedis(config.redisUrl);
    if (problem) throw new ConfigError(`REDIS_URL ${problem}`);
  }
  const redis = redisEndpoint(config);
  if (redis && config.transport !== 'memory') {
    const stores = getRedisStores(redis, config.streamPrefix, logger, { commandTimeoutMs: config.redisCommandTimeoutMs });
    closers.push(stores.close);
    infra.claims = stores.claims;
    infra.users = stores.users;
    infra.attempts = stores.attempts;
  }
  if (config.transport === 'redis') {
    const geo = makeRedisGeoProjection({ ...redis!, commandTimeoutMs: config.redisCommandTimeoutMs, key: `${config.streamPrefix}{geo}:drivers` });
    infra.positions = geo;
    closers.push(() => geo.close());
  }
  if (config.transport === 'redis') {
    infra.log = getRedisEventLog({
      ...redis!,
      prefix: config.streamPrefix,
      maxLength: { 'driver-locations': config.locationRetention, rides: config.rideRetention, drivers: config.rideRetention },
      claimIdleMs: knobs.claimIdleMs,
      commandTimeoutMs: config.redisCommandTimeoutMs,
      locationShards: config.locationShards,
      logger,
    });
  }
  if (config.readModel === 'mongo') {
    const readModel = getMongoReadModel({ url: config.mongoUrl!, trackRetentionSeconds: Math.round(config.trackRetentionMs / 1000) });
    infra.readModel = readModel;
    closers.push(() => readModel.close());
  }
  if (config.transport === 'kafka') {
    infra.log = getKafkaEventLog({
      brokers: config.kafkaBrokers,
      topicPrefix: config.streamPrefix.replace(/:$/, '.'),
      idempotent: knobs.kafkaIdempotent,
      createTopics: knobs.kafkaCreateTopics,
      consumer: knobs.kafkaConsumer,
      requestTimeoutMs: config.kafkaRequestTimeoutMs,
      // Shared Redis claims make version checks hold across instances (several may match at once).
      ...(infra.claims && { versionArbiter: infra.claims }),
      logger,
    });
  }
  return infra;
}

/** The Redis the configuration names: a cluster (REDIS_CLUSTER_NODES), one server (REDIS_URL), or none. */
export function redisEndpoint(config: Pick<Config, 'redisUrl' | 'redisClusterNodes'>): RedisEndpoint | null {
  if (config.redisClusterNodes.length > 0) return { clusterNodes: config.redisClusterNodes };
  return config.redisUrl ? { url: config.redisUrl } : null;
}

/**
 * Transport tuning read from the environment; unset means the adapter's default. Operators rarely
 * touch these; tests set them (fast takeover, the librdkafka mock's limits).
 *   CLAIM_IDLE_MS                 Redis: a member's pending entry idle this long is taken over by another
 *                                 member (XAUTOCLAIM); also the claim check interval. Default 30000.
 *   KAFKA_IDEMPOTENT              Kafka: idempotent producer, 1|0. Default 1 (the librdkafka mock needs 0).
 *   KAFKA_CREATE_TOPICS           Kafka: create missing topics at start, 1|0. Default 1.
 *   KAFKA_SESSION_TIMEOUT_MS, KAFKA_REBALANCE_TIMEOUT_MS, KAFKA_HEARTBEAT_INTERVAL_MS, KAFKA_MAX_WAIT_MS
 *                                 Kafka consumer settings (defaults 30000, 60000, 3000, 1000).
 */
function transportKnobs(env: NodeJS.ProcessEnv) {
  const int = (name: string, min: number, max: number): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    return n;
  };
  const bool = (name: string): boolean | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    if (raw === '1' || raw === 'true') return true;
    if (raw === '0' || raw === 'false') return false;
    throw new ConfigError(`${name} must be 1 or 0, got "${raw}"`);
  };
  return {
    claimIdleMs: int('CLAIM_IDLE_MS', 100, 3_600_000),
    kafkaIdempotent: bool('KAFKA_IDEMPOTENT'),
    kafkaCreateTopics: bool('KAFKA_CREATE_TOPICS'),
    kafkaConsumer: {
      sessionTimeoutMs: int('KAFKA_SESSION_TIMEOUT_MS', 1_000, 3_600_000),
      rebalanceTimeoutMs: int('KAFKA_REBALANCE_TIMEOUT_MS', 1_000, 3_600_000),
      heartbeatIntervalMs: int('KAFKA_HEARTBEAT_INTERVAL_MS', 100, 3_600_000),
      maxWaitTimeMs: int('KAFKA_MAX_WAIT_MS', 10, 60_000),
    },
  };
}
