import { afterAll, beforeAll, vi } from 'vitest';
import { getKafkaEventLog, type KafkaEventLog, type KafkaEventLogOptions } from '../adapters/kafka/event-log.ts';
import { eventLogContract } from './contract/event-log.contract.ts';
import { startKafka, type KafkaCluster } from './support/kafka.ts';

// Every consumer group join costs seconds on a broker (3 s on the mock): tests need more than the default 30 s.
vi.setConfig({ testTimeout: 60_000 });

let cluster: KafkaCluster;
let counter = 0;
const warnings: unknown[] = [];
const logger = { warn: (o: unknown) => void warnings.push(o), error: (o: unknown) => void warnings.push(o) };

beforeAll(async () => {
  cluster = await startKafka();
});
afterAll(async () => {
  await cluster?.stop();
});

const makeLog = (extra: Partial<KafkaEventLogOptions> = {}): KafkaEventLog =>
  getKafkaEventLog({
    brokers: cluster.brokers,
    clientId: 'ridecast-test',
    topicPrefix: `t${process.pid}-${++counter}.`,
    // The mock has no CreateTopics and cannot do idempotence (see test/support/kafka.ts).
    createTopics: cluster.real,
    idempotent: cluster.real,
    retryDelayMs: 20,
    // The mock holds a rejoin for sessionTimeout - 1000 ms, and expires a member still waiting on
    // its first (3 s) join below about 4 s; a real broker refuses less than 6 s.
    consumer: { sessionTimeoutMs: cluster.real ? 6_000 : 4_000, rebalanceTimeoutMs: 4_000, heartbeatIntervalMs: 300, maxWaitTimeMs: 100 },
    retry: { initialRetryTimeMs: 100, retries: 5 },
    logger,
    ...extra,
  });

eventLogContract('kafka', async () => makeLog(), { settleMs: 1500, timeoutMs: 45_000 });
