import { Kafka, Partitioners, type Admin, type ConsumerConfig, type ICustomPartitioner } from 'kafkajs';
import type { Claims } from '../../domain/ports/claims.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import { STREAMS, streams, type StreamName } from '../../domain/ports/event-log.ts';
import { kafkaLogLevel, kafkaLogs, type KafkaLogLevel, type Logger } from './logging.ts';

export interface KafkaEventLogOptions {
  readonly brokers: string[];
  readonly clientId?: string;
  /** Namespace for topics (`<prefix><stream>`) and consumer groups (`<prefix><stream>.<group>`). Default `ridecast.`. */
  readonly topicPrefix?: string;
  /**
   * Partitions the adapter creates a topic with and spreads keys over (murmur2 of the key, as the Java
   * client does). Default 1: a total order for read(). See the comment on getKafkaEventLog.
   */
  readonly partitions?: number;
  /** Create missing topics at start (needs CreateTopics rights; the librdkafka mock has no CreateTopics). Default true. */
  readonly createTopics?: boolean;
  /** retention.ms of the topics the adapter creates. Default: rides and drivers forever (-1), GPS one day. */
  readonly retentionMs?: Partial<Record<StreamName, number>>;
  /** About how many events read() serves per stream, newest kept. Default: driver-locations 100 000; rides and drivers all. */
  readonly readWindow?: Partial<Record<StreamName, number>>;
  /** Idempotent producer (no duplicates on retry). Default true; the librdkafka mock cannot (see test/support/kafka.ts). */
  readonly idempotent?: boolean;
  /** Deliveries of one event to a group before it goes to `<topic>.dead`. Default 5. */
  readonly maxDeliveries?: number;
  /** Backoff between deliveries: retryDelayMs × 2^(attempt-1) (default 200), at most maxRetryDelayMs (default 5000). */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** How long append/readKey/read wait for this process's index to reach the broker's offsets. Default 15 000. */
  readonly catchUpTimeoutMs?: number;
  readonly pingTimeoutMs?: number;
  /** How long one broker request may take before it fails and is retried (kafkajs requestTimeout). Default 5000. */
  readonly requestTimeoutMs?: number;
  readonly consumer?: {
    readonly sessionTimeoutMs?: number;
    readonly rebalanceTimeoutMs?: number;
    readonly heartbeatIntervalMs?: number;
    /** How long the broker holds a fetch that has nothing yet. */
    readonly maxWaitTimeMs?: number;
  };
  /**
   * Makes version checks hold across processes: before writing version v+1 of an entity, the writer
   * claims `<stream>/<key>@v` here (first writer wins, for `versionClaimTtlMs`); a process that loses
   * the claim gets VERSION_CONFLICT as if it had seen the other write. Redis claims shared by every
   * instance (TRANSPORT=kafka with REDIS_URL). Without it, only one process may write rides/drivers.
   */
  readonly versionArbiter?: Claims;
  /**
   * How long a version claim lives: longer than a produce plus another process's catch-up, and how
   * long a writer that died between claim and produce blocks its entity (others wait, then write).
   * Default 5 000.
   */
  readonly versionClaimTtlMs?: number;
  /** kafkajs retries for connections and requests. */
  readonly retry?: { readonly initialRetryTimeMs?: number; readonly retries?: number };
  /** What kafkajs itself logs (through `logger`). Default `error`. */
  readonly kafkaLogLevel?: KafkaLogLevel;
  /** Stamps `recordedAtMs` and times version-claim waits. Default the system clock. */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** Long-lived streams are kept forever, short ones (GPS) a day: the descriptor's `retention`. */
const defaultRetentionMs = (stream: StreamName) => (streams[stream].retention === 'long' ? -1 : 86_400_000);

/** The kafkajs client, admin and producer as the options ask, and the settings every consumer shares. */
export function createClients(options: KafkaEventLogOptions, logger: Logger) {
  const idempotent = options.idempotent ?? true;
  const retry = { initialRetryTime: options.retry?.initialRetryTimeMs ?? 300, retries: options.retry?.retries ?? 5 };
  const consumerConfig: Omit<ConsumerConfig, 'groupId'> = {
    sessionTimeout: options.consumer?.sessionTimeoutMs ?? 30_000,
    rebalanceTimeout: options.consumer?.rebalanceTimeoutMs ?? 60_000,
    heartbeatInterval: options.consumer?.heartbeatIntervalMs ?? 3_000,
    maxWaitTimeInMs: options.consumer?.maxWaitTimeMs ?? 1_000,
    retry,
  };
  const kafka = new Kafka({
    clientId: options.clientId ?? 'ridecast',
    brokers: options.brokers,
    retry,
    // kafkajs waits 30 s for a frozen broker by default; a request that hangs should fail and retry sooner.
    requestTimeout: options.requestTimeoutMs ?? 5_000,
    connectionTimeout: Math.min(options.requestTimeoutMs ?? 5_000, 3_000),
    logLevel: kafkaLogLevel[options.kafkaLogLevel ?? 'error'],
    logCreator: kafkaLogs(logger),
  });
  const producer = kafka.producer({
    idempotent,
    // One request in flight per broker: a retried batch can never overtake the next one, so order per key holds.
    maxInFlightRequests: 1,
    // Idempotence needs unbounded retries (kafkajs warns otherwise); without it, fail as the client retry says.
    retry: idempotent ? { ...retry, retries: Number.MAX_SAFE_INTEGER } : retry,
    createPartitioner: partitionerOver(Math.max(1, options.partitions ?? 1)),
  });
  return { kafka, admin: kafka.admin(), producer, consumerConfig };
}

/** Creates the stream topics and their `.dead` topics that do not exist yet; a refusal is logged, not thrown. */
export async function createMissingTopics(
  admin: Admin,
  { prefix, partitions, retentionMs, logger }: { prefix: string; partitions: number; retentionMs?: Partial<Record<StreamName, number>>; logger: Logger },
): Promise<void> {
  const retention = (s: StreamName) => retentionMs?.[s] ?? defaultRetentionMs(s);
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = STREAMS.flatMap((s) => [
      { topic: `${prefix}${s}`, numPartitions: partitions, configEntries: [{ name: 'retention.ms', value: String(retention(s)) }] },
      { topic: `${prefix}${s}.dead`, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: String(retention(s)) }] },
    ]).filter((t) => !existing.has(t.topic));
    if (wanted.length > 0) await admin.createTopics({ topics: wanted, waitForLeaders: true });
  } catch (err) {
    logger.warn({ err }, 'kafka topics not created: relying on existing or auto-created topics');
  }
}

/** Partition 0 for everything, or the Java client's murmur2 of the key over the first `n` partitions. */
function partitionerOver(n: number): ICustomPartitioner {
  return () => {
    const byKey = Partitioners.DefaultPartitioner();
    return ({ topic, partitionMetadata, message }) => {
      if (n === 1) return 0;
      const used = [...partitionMetadata].sort((a, b) => a.partitionId - b.partitionId).slice(0, n);
      return byKey({ topic, partitionMetadata: used, message });
    };
  };
}

/**
 * An ephemeral group must start over at each subscribe: one a crash left behind is deleted first.
 * Where the broker cannot delete it, a fresh id (`<groupId>.<suffix>`) is used instead, and the
 * leftover expires with the broker's offsets retention.
 */
export async function freshGroupId(admin: Admin, groupId: string, suffix: string): Promise<string> {
  try {
    await admin.deleteGroups([groupId]);
    return groupId;
  } catch (err) {
    // GROUP_ID_NOT_FOUND is the usual answer: nothing was left behind.
    const codes = ((err as { groups?: { error?: { type?: string } }[] }).groups ?? []).map((g) => g.error?.type);
    return codes.length > 0 && codes.every((c) => c === 'GROUP_ID_NOT_FOUND') ? groupId : `${groupId}.${suffix}`;
  }
}
