import { getKafkaEventLog } from '../../adapters/kafka/event-log.ts';
import { getRedisEventLog } from '../../adapters/redis/event-log.ts';
import { getRedisStores } from '../../adapters/redis/stores.ts';
import { makeRedisGeoProjection } from '../../projections/geo/redis-geo.ts';
import { partitionedGpsOnRedis } from './partitioned-gps.ts';
import type { Infrastructure } from '../../src/wiring.ts';
import { startKafka, type KafkaCluster } from './kafka.ts';
import { startRedis, type RedisServer } from './redis.ts';

/** A transport a suite can run on: started once per file, handing out fresh namespaces per service. */
export interface TestTransport {
  readonly name: 'memory' | 'redis' | 'kafka';
  /** Starts the backing server (if any). */
  setUp(): Promise<void>;
  /** Infrastructure for one service instance; `shared` namespaces let two instances share one log. */
  infra(namespace?: string): Infrastructure;
  tearDown(): Promise<void>;
  /** How long consumers may take to see an event (a broker's rebalance is slower than memory). */
  readonly patienceMs: number;
}

let counter = 0;
const fresh = () => `t${process.pid}x${++counter}`;

export function memoryTransport(): TestTransport {
  return { name: 'memory', patienceMs: 15_000, async setUp() {}, infra: () => ({}), async tearDown() {} };
}

export function redisTransport(): TestTransport {
  let server: RedisServer | undefined;
  return {
    name: 'redis',
    patienceMs: 20_000,
    async setUp() {
      server = await startRedis({ aof: true, appendfsync: 'everysec' });
    },
    infra(namespace = fresh()) {
      const prefix = `${namespace}:`;
      const stores = getRedisStores(server!.url, prefix, { warn() {} });
      // As TRANSPORT=redis deploys it: nearby answers from the shared GEO projection.
      const positions = makeRedisGeoProjection({ url: server!.url, key: `${prefix}{geo}:drivers` });
      // GPS work partitioned as in production (shard leases, ride channels, shared screening and tracks).
      const gps = partitionedGpsOnRedis(server!.url, prefix, 4);
      return {
        ...gps.infra,
        // GPS sharded as in production (LOCATION_SHARDS), so every suite on Redis reads across shards.
        log: getRedisEventLog({ url: server!.url, prefix, claimIdleMs: 1_000, blockMs: 500, locationShards: 4 }),
        claims: stores.claims,
        users: stores.users,
        attempts: stores.attempts,
        positions,
        close: async () => void (await Promise.all([stores.close(), positions.close(), gps.close()])),
      };
    },
    async tearDown() {
      await server?.stop();
    },
  };
}

export function kafkaTransport(): TestTransport {
  let cluster: KafkaCluster | undefined;
  return {
    name: 'kafka',
    patienceMs: 45_000,
    async setUp() {
      cluster = await startKafka();
    },
    infra(namespace = fresh()) {
      const real = cluster!.real;
      return {
        log: getKafkaEventLog({
          brokers: cluster!.brokers,
          topicPrefix: `${namespace}.`,
          // The mock has no CreateTopics and cannot do idempotence (test/support/kafka.ts).
          createTopics: real,
          idempotent: real,
          retryDelayMs: 20,
          consumer: { sessionTimeoutMs: 6_000, rebalanceTimeoutMs: 6_000, heartbeatIntervalMs: 300, maxWaitTimeMs: 100 },
          logger: { warn() {}, error() {} },
        }),
      };
    },
    async tearDown() {
      await cluster?.stop();
    },
  };
}

export const allTransports = () => [memoryTransport(), redisTransport(), kafkaTransport()];
