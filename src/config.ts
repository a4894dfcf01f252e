import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Tariff } from '../domain/fare.ts';
import { defaultFairnessRules as fair, type FairnessRules } from '../domain/matching/dispatch.ts';

export interface Config {
  port: number;
  host: string;
  transport: 'memory' | 'redis' | 'kafka';
  redisUrl: string | null;
  /** A Redis Cluster instead of one server (`REDIS_CLUSTER_NODES=host:port,…`); empty: use `redisUrl`. */
  redisClusterNodes: string[];
  kafkaBrokers: string[];
  readModel: 'memory' | 'mongo';
  mongoUrl: string | null;
  jwtSecret: string;
  adminUsername: string;
  adminPassword: string;
  /** The embedded demo: generated secrets, demo users printed at start-up, simulator on. */
  demo: boolean;
  simulate: number;
  ridersPerMinute: number;
  simulateTimeScale: number;
  logLevel: string;
  tlsCert: string | null;
  tlsKey: string | null;
  /**
   * Names this instance's own consumer groups (`local-<id>`: live push, in-process projections) and
   * its group members. Stable across restarts, so a restart reuses its groups instead of adding new
   * ones (they are reset at start and removed at a graceful stop). Default `<hostname>-<port>`: two
   * instances on one host with the same PORT (e.g. PORT=0) must set INSTANCE_ID each.
   */
  instanceId: string;
  streamPrefix: string;
  tariff: Tariff;
  offerTimeoutMs: number;
  matchTimeoutMs: number;
  locationRetention: number;
  /** `driver-locations` split into this many streams by driver (Redis; Kafka: partitions). */
  locationShards: number;
  /** GPS work: `partitioned` (each shard on one instance; needs a shared Redis) or `broadcast` (every instance reads every point). */
  gpsWork: 'partitioned' | 'broadcast';
  /** A GPS shard's lease lapses after this long unrenewed; a survivor then takes the shard over. */
  shardLeaseMs: number;
  /** Partitioned GPS: how often a shard owner publishes its drivers' newest positions to the other instances' fleet index. */
  fleetFeedMs: number;
  rideRetention: number;
  serviceArea: string | null;
  zones: string | null;
  rateLimitPerMinute: number;
  trackRetentionMs: number;
  maxSocketsPerUser: number;
  socketMessagesPerSecond: number;
  bodyLimitBytes: number;
  /** How often the reconciler repairs what lost reactions left behind. */
  reconcileIntervalMs: number;
  /** A ride under way whose driver has sent no location for this long is cancelled by the reconciler. */
  driverLostMs: number;
  /** Failed logins allowed per account and per client address in a window (then 429). */
  loginLimits: { perAccount: number; perAddress: number; windowMs: number };
  /** A request's headers and body must arrive within these (then 408 or closed). */
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  /** Open connections accepted at once. */
  maxConnections: number;
  /** A Redis command that gets no answer in this long fails (503), instead of waiting for a frozen server. */
  redisCommandTimeoutMs: number;
  /** Kafka: how long one broker request may take before it fails (kafkajs requestTimeout). */
  kafkaRequestTimeoutMs: number;
  /** GPS points one driver may send per second, over every request and socket (token bucket). */
  locationPointsPerSecond: number;
  /** The bucket's size: the burst a driver may send at once; at least one full batch (100). */
  locationPointsBurst: number;
  dispatch: DispatchConfig;
  /** Transport tuning (CLAIM_IDLE_MS, KAFKA_*): unset means the adapter's default. */
  transportKnobs: TransportKnobs;
  /** A driver whose last fix is older than this leaves the Redis GEO map (GEO_STALE_MS; the rebuild CLI). */
  geoStaleMs: number;
  /** The map page's tile server (MAP_TILE_URL); null: the page's default. */
  mapTileUrl: string | null;
  /** DEBUG set: CLIs print stack traces. */
  debug: boolean;
}

/**
 * Transport tuning; unset means the adapter's default. Operators rarely touch these; tests set them
 * (fast takeover, the librdkafka mock's limits).
 *   CLAIM_IDLE_MS                 Redis: a member's pending entry idle this long is taken over by another
 *                                 member (XAUTOCLAIM); also the claim check interval. Default 30000.
 *   KAFKA_IDEMPOTENT              Kafka: idempotent producer, 1|0. Default 1 (the librdkafka mock needs 0).
 *   KAFKA_CREATE_TOPICS           Kafka: create missing topics at start, 1|0. Default 1.
 *   KAFKA_SESSION_TIMEOUT_MS, KAFKA_REBALANCE_TIMEOUT_MS, KAFKA_HEARTBEAT_INTERVAL_MS, KAFKA_MAX_WAIT_MS
 *                                 Kafka consumer settings (defaults 30000, 60000, 3000, 1000).
 */
export interface TransportKnobs {
  claimIdleMs?: number;
  kafkaIdempotent?: boolean;
  kafkaCreateTopics?: boolean;
  kafkaConsumer: { sessionTimeoutMs?: number; rebalanceTimeoutMs?: number; heartbeatIntervalMs?: number; maxWaitTimeMs?: number };
}

/**
 * The process environment, copied: the one place that reads `process.env` (test/config-env.test.ts
 * holds every other production file to it). Entry points pass it to `loadConfig` and the CLI loaders.
 */
export const environment = (): NodeJS.ProcessEnv => ({ ...process.env });

/** What the simulator CLI reads from the environment (its flags take precedence). */
export function loadSimulatorSettings(env: NodeJS.ProcessEnv = environment()) {
  return {
    url: env.SIMULATE_URL || null,
    adminUsername: env.ADMIN_USERNAME || null,
    adminPassword: env.ADMIN_PASSWORD ?? null,
  };
}

/** How requests meet drivers (src/app/matcher.ts, domain/matching/). */
export interface DispatchConfig {
  /** `nearest`: each request offered at once to its best free driver; `batched`: windows solved as one assignment. */
  matching: 'nearest' | 'batched';
  /** `batched`: the longest a request waits for its window to be solved. */
  batchWindowMs: number;
  /** OFFER_FANOUT: how many drivers a ride is offered to at once; the first to accept wins. */
  offerFanout: number;
  fairness: FairnessRules;
}

/** A setting that is missing or wrong: start-up stops with this one line. */
export class ConfigError extends Error {}

/** Reads and checks the environment. Throws ConfigError naming the first bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = environment()): Config {
  const str = (name: string, fallback?: string) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback === undefined) throw new ConfigError(`${name} is required`);
    return fallback;
  };
  const int = (name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    return n;
  };
  const num = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new ConfigError(`${name} must be a non-negative number, got "${raw}"`);
    return n;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const v = str(name, fallback);
    if (!allowed.includes(v as T)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  };

  const transport = oneOf('TRANSPORT', ['memory', 'redis', 'kafka'] as const, 'memory');
  const readModel = oneOf('READ_MODEL', ['memory', 'mongo'] as const, 'memory');
  // The embedded default is a demo unless told otherwise; anything backed by real infrastructure is not.
  const demo = env.DEMO !== undefined ? env.DEMO === '1' || env.DEMO === 'true' : transport === 'memory';
  const jwtSecret = demo ? str('JWT_SECRET', randomBytes(32).toString('hex')) : str('JWT_SECRET');
  if (jwtSecret.length < 16) throw new ConfigError('JWT_SECRET must be at least 16 characters');
  const tlsCert = env.TLS_CERT || null;
  const tlsKey = env.TLS_KEY || null;
  if (!!tlsCert !== !!tlsKey) throw new ConfigError(`${tlsCert ? 'TLS_KEY' : 'TLS_CERT'} is required when the other TLS setting is set`);
  const port = int('PORT', 3000, 0, 65535);
  const redisClusterNodes = (env.REDIS_CLUSTER_NODES ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  for (const node of redisClusterNodes) {
    if (!/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(node)) throw new ConfigError(`REDIS_CLUSTER_NODES must be host:port entries separated by commas, got "${node}"`);
  }
  if (transport === 'redis' && redisClusterNodes.length === 0 && !env.REDIS_URL) throw new ConfigError('TRANSPORT=redis needs REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster)');
  if (redisClusterNodes.length > 0 && env.REDIS_URL) throw new ConfigError('set REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both');

  return {
    port,
    host: str('HOST', '127.0.0.1'),
    transport,
    redisUrl: env.REDIS_URL || null,
    redisClusterNodes,
    kafkaBrokers: transport === 'kafka' ? str('KAFKA_BROKERS').split(',').map((b) => b.trim()).filter(Boolean) : [],
    readModel,
    mongoUrl: readModel === 'mongo' ? str('MONGO_URL') : (env.MONGO_URL ?? null),
    jwtSecret,
    adminUsername: str('ADMIN_USERNAME', 'admin'),
    adminPassword: demo ? str('ADMIN_PASSWORD', randomBytes(6).toString('hex')) : str('ADMIN_PASSWORD'),
    demo,
    simulate: int('SIMULATE', demo ? 80 : 0, 0, 100_000),
    ridersPerMinute: int('RIDERS_PER_MINUTE', demo ? 30 : 20, 0, 100_000),
    simulateTimeScale: num('SIMULATE_TIME_SCALE', demo ? 6 : 1),
    logLevel: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    tlsCert,
    tlsKey,
    instanceId: str('INSTANCE_ID', `${hostname()}-${port}`),
    streamPrefix: str('STREAM_PREFIX', 'ridecast:'),
    tariff: {
      currency: str('FARE_CURRENCY', 'EUR'),
      base: num('FARE_BASE', 2.5),
      perKm: num('FARE_PER_KM', 1.2),
      perMinute: num('FARE_PER_MINUTE', 0.3),
      minimum: num('FARE_MINIMUM', 5),
    },
    offerTimeoutMs: int('OFFER_TIMEOUT_MS', 15_000, 1_000),
    matchTimeoutMs: int('MATCH_TIMEOUT_MS', 120_000, 1_000),
    locationRetention: int('LOCATION_RETENTION', 1_000_000, 1_000),
    locationShards: int('LOCATION_SHARDS', 8, 1, 1_024),
    gpsWork: oneOf('GPS_WORK', ['partitioned', 'broadcast'] as const, 'partitioned'),
    shardLeaseMs: int('SHARD_LEASE_MS', 10_000, 300, 600_000),
    fleetFeedMs: int('FLEET_FEED_MS', 500, 50, 60_000),
    rideRetention: int('RIDE_RETENTION', 10_000_000, 1_000),
    serviceArea: env.SERVICE_AREA || null,
    zones: env.ZONES || null,
    rateLimitPerMinute: int('RATE_LIMIT_PER_MINUTE', 1_200, 1),
    trackRetentionMs: int('TRACK_RETENTION_MS', 24 * 3600_000, 0),
    maxSocketsPerUser: int('MAX_SOCKETS_PER_USER', 20, 1),
    socketMessagesPerSecond: int('SOCKET_MESSAGES_PER_SECOND', 50, 1),
    bodyLimitBytes: int('BODY_LIMIT_BYTES', 64 * 1024, 1_024),
    reconcileIntervalMs: int('RECONCILE_INTERVAL_MS', 30_000, 100, 24 * 3600_000),
    driverLostMs: int('DRIVER_LOST_MS', 5 * 60_000, 1_000),
    loginLimits: {
      perAccount: int('LOGIN_FAILURES_PER_ACCOUNT', 10, 1),
      perAddress: int('LOGIN_FAILURES_PER_ADDRESS', 100, 1),
      windowMs: int('LOGIN_FAILURE_WINDOW_SECONDS', 900, 1, 86_400) * 1000,
    },
    requestTimeoutMs: int('REQUEST_TIMEOUT_MS', 20_000, 100, 600_000),
    headersTimeoutMs: int('HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
    maxConnections: int('MAX_CONNECTIONS', 10_000, 1),
    redisCommandTimeoutMs: int('REDIS_COMMAND_TIMEOUT_MS', 2_000, 50, 600_000),
    kafkaRequestTimeoutMs: int('KAFKA_REQUEST_TIMEOUT_MS', 5_000, 100, 600_000),
    dispatch: {
      matching: oneOf('MATCHING', ['nearest', 'batched'] as const, 'nearest'),
      batchWindowMs: int('BATCH_WINDOW_MS', 2_000, 10, 60_000),
      offerFanout: int('OFFER_FANOUT', 1, 1, 10),
      fairness: {
        idleBonusSecondsPerMinute: num('DISPATCH_IDLE_BONUS_SECONDS_PER_MINUTE', fair.idleBonusSecondsPerMinute),
        idleBonusMaxSeconds: num('DISPATCH_IDLE_BONUS_MAX_SECONDS', fair.idleBonusMaxSeconds),
        missedOfferPenaltySeconds: num('DISPATCH_MISSED_OFFER_PENALTY_SECONDS', fair.missedOfferPenaltySeconds),
        missedOfferMaxCount: int('DISPATCH_MISSED_OFFER_MAX', fair.missedOfferMaxCount, 0, 100),
        missedOfferMemoryMs: int('DISPATCH_MISSED_OFFER_MEMORY_MS', fair.missedOfferMemoryMs, 0),
      },
    },
    locationPointsPerSecond: int('LOCATION_POINTS_PER_SECOND', 10, 1),
    locationPointsBurst: int('LOCATION_POINTS_BURST', 120, 100),
    transportKnobs: transportKnobs(env),
    geoStaleMs: int('GEO_STALE_MS', 60_000, 1),
    mapTileUrl: env.MAP_TILE_URL || null,
    debug: !!env.DEBUG,
  };
}

function transportKnobs(env: NodeJS.ProcessEnv): TransportKnobs {
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
