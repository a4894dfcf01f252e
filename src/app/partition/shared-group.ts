import type { EventLog, Subscription } from '../../../domain/ports/event-log.ts';
import type { PartitionedConsumer } from '../../../domain/ports/partitions.ts';

/**
 * Partitioned work where the log partitions a group by key itself (Kafka: the consumer group's
 * partition assignment; a topic partition is read by one member, and moves on a rebalance, its
 * uncommitted records redelivered to the new owner). One shared group does it.
 */
export function sharedGroupPartitions(log: EventLog, group: string, instanceId: string): PartitionedConsumer {
  let sub: Subscription | undefined;
  return {
    async start(batchHandler) {
      sub = await log.subscribe('driver-locations', { group, consumer: instanceId, from: 'start', batchHandler });
    },
    // The assignment is the group's own; this instance does not see it.
    owned: () => [],
    async close() {
      await sub?.close();
    },
  };
}
