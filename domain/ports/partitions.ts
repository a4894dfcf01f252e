import type { Recorded } from './event-log.ts';

/**
 * Partitioned work: a high-volume stream's partitions (Redis: the GPS shards; Kafka: the topic's
 * partitions) shared out over the live instances, each partition read by exactly one of them at a
 * time, in order. When an instance dies its partitions move to the survivors, which take over what
 * it had been handed and not acknowledged (at-least-once: the handler stays idempotent).
 */
export interface PartitionedConsumer {
  /** Starts taking this instance's share; `batchHandler` gets one read at a time (one partition's, or on one Redis every owned shard's at once), each partition's events in order, acknowledged after it resolves. */
  start(batchHandler: (events: readonly Recorded[]) => Promise<void>): Promise<void>;
  /** The partitions this instance owns now (tests, diagnostics). */
  owned(): readonly number[];
  /** Graceful: in-flight batches finish and are acknowledged, then the partitions are given up at once. */
  close(): Promise<void>;
}
