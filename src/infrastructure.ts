import { getKafkaEventLog } from '../adapters/kafka/event-log.ts';
import { getMongoReadModel } from '../adapters/mongo/read-model.ts';
import { makeRedisGeoProjection } from '../projections/geo/redis-geo.ts';
import { getRedisEventLog } from '../adapters/redis/event-log.ts';
import { connectLogged, type RedisClient, type RedisEndpoint } from '../adapters/redis/connection.ts';
import { probeRedis } from '../adapters/redis/probe.ts';
import { getRedisStores } from '../adapters/redis/stores.ts';
import { getRedisChannels } from '../adapters/redis/channels.ts';
import { getRedisPartitions } from '../adapters/redis/partitions.ts';
import { getRedisScreeningStore } from '../adapters/redis/screening.ts';
import { streamLayout } from '../adapters/redis/layout.ts';
import { getRedisTracks } from '../adapters/redis/tracks.ts';
import { RECENT_POINTS_KEPT } from '../domain/tracking/clean.ts';
import { sharedGroupPartitions } from './app/partition/shared-group.ts';
import { ConfigError, type Config } from './config.ts';
import { systemClock, type Clock } from '../domain/ports/clock.ts';
import type { Infrastructure, Logger } from './wiring.ts';

/**
 * Picks the adapters the configuration names. Memory needs nothing: wiring supplies the defaults.
 * With Redis, accounts and claims live in Redis too, so every instance shares them.
 */
export async function makeInfrastructure(config: Config, logger: Logger, clock: Clock = systemClock): Promise<Infrastructure> {
  const knobs = config.transportKnobs;
  const closers: (() => Promise<unknown>)[] = [];
  /** The shared connection below goes last: the others may still send on it while they close. */
  let hot: RedisClient | undefined;
  const infra: Infrastructure = {
    close: async () => {
      await Promise.all(closers.map((c) => c()));
      if (hot?.status === 'ready') await hot.quit().catch(() => undefined);
      hot?.disconnect();
    },
  };
  // A wrong REDIS_URL is one line naming it, before any client starts retrying and logging.
  if (config.redisUrl && config.transport !== 'memory') {
    const problem = await probeRedis(config.redisUrl);
    if (problem) throw new ConfigError(`REDIS_URL ${problem}`);
  }
  const redis = redisEndpoint(config);
  if (redis && config.transport !== 'memory') {
    // One fail-fast, auto-pipelined connection for what a request or a GPS point sends (the auth
    // check, screen-and-append, the GEO projection's batch, ride-channel publishes): what they send in
    // one tick leaves in one socket write, not one per connection (README "Redis commands per point").
    hot = connectLogged(redis, logger, 'main', { maxRetriesPerRequest: 1, commandTimeout: config.redisCommandTimeoutMs });
    const stores = getRedisStores(redis, config.streamPrefix, logger, { commandTimeoutMs: config.redisCommandTimeoutMs, client: hot, clock });
    closers.push(stores.close);
    infra.claims = stores.claims;
    infra.users = stores.users;
    infra.attempts = stores.attempts;
  }
  if (config.transport === 'redis') {
    const geo = makeRedisGeoProjection({ redis: hot, key: `${config.streamPrefix}{geo}:drivers` });
    infra.positions = geo;
    closers.push(() => geo.close());
  }
  if (config.transport === 'redis') {
    infra.log = getRedisEventLog({
      ...redis!,
      prefix: config.streamPrefix,
      maxLength: redisMaxLength(config),
      claimIdleMs: knobs.claimIdleMs,
      commandTimeoutMs: config.redisCommandTimeoutMs,
      locationShards: config.locationShards,
      clock,
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
      clock,
      logger,
    });
  }
  if (redis && infra.log && config.gpsWork === 'partitioned') partitionGps(infra, config, redis, hot!, logger, knobs.claimIdleMs, closers, clock);
  return infra;
}

/**
 * GPS work partitioned over the instances (README "Scaling out"): on Redis, shard leases; on Kafka,
 * the `gps` group's partition assignment. Both need the shared Redis for the ride channels, the
 * screening store and the trip tracks (with a memory read model; MongoDB shares tracks already).
 */
function partitionGps(infra: Infrastructure, config: Config, redis: RedisEndpoint, hot: RedisClient, logger: Logger, claimIdleMs: number | undefined, closers: (() => Promise<unknown>)[], clock: Clock): void {
  const prefix = config.streamPrefix;
  const commandTimeoutMs = config.redisCommandTimeoutMs;
  const channels = getRedisChannels({ ...redis, prefix, logger, pub: hot });
  // With the GPS stream on the same Redis, each window sits beside its driver's shard: screening and
  // append are then one script call (compare-and-append), not a read, an append and an add.
  const log = config.transport === 'redis' ? { layout: streamLayout(prefix, config.locationShards, redisMaxLength(config)), clock } : undefined;
  const screening = getRedisScreeningStore({ ...redis, prefix, kept: RECENT_POINTS_KEPT, commandTimeoutMs, log, redis: hot });
  closers.push(() => channels.close(), () => screening.close());
  if (config.readModel === 'memory') {
    const tracks = getRedisTracks({ ...redis, prefix, retentionMs: config.trackRetentionMs, commandTimeoutMs });
    infra.tracks = tracks;
    closers.push(() => tracks.close());
  }
  const consumer =
    config.transport === 'redis'
      ? getRedisPartitions({ ...redis, prefix, stream: 'driver-locations', shards: config.locationShards, group: 'gps', instanceId: config.instanceId, leaseMs: config.shardLeaseMs, claimIdleMs, logger })
      : sharedGroupPartitions(infra.log!, 'gps', config.instanceId);
  infra.partitioned = { consumer, channels, screening, fleetFeedMs: config.fleetFeedMs };
}

/** Retention per stream on Redis (`XADD … MAXLEN ~`), the same for the log and whoever appends beside it. */
function redisMaxLength(config: Config) {
  return { 'driver-locations': config.locationRetention, rides: config.rideRetention, drivers: config.rideRetention };
}

/** The Redis the configuration names: a cluster (REDIS_CLUSTER_NODES), one server (REDIS_URL), or none. */
export function redisEndpoint(config: Pick<Config, 'redisUrl' | 'redisClusterNodes'>): RedisEndpoint | null {
  if (config.redisClusterNodes.length > 0) return { clusterNodes: config.redisClusterNodes };
  return config.redisUrl ? { url: config.redisUrl } : null;
}
