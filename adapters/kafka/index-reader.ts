import { randomUUID } from 'node:crypto';
import type { ConsumerConfig, Kafka } from 'kafkajs';
import type { StreamName } from '../../domain/ports/event-log.ts';
import { decodeMessage } from './codec.ts';
import type { StreamIndex } from './stream-index.ts';

export interface IndexedTopic {
  readonly topic: string;
  readonly stream: StreamName;
  readonly index: StreamIndex;
}

export interface IndexReader {
  stop(): Promise<void>;
}

/**
 * Feeds topics, from their oldest retained record, into their in-memory indexes. kafkajs only
 * consumes through a group, so the reader has a group of its own (one member, so every partition,
 * and a fresh name per process, so every process reads everything); it never commits.
 * Resolves once the group is joined; `onGivenUp` is called if the consumer stops for good.
 */
export async function startIndexReader(
  kafka: Kafka,
  topics: readonly IndexedTopic[],
  groupPrefix: string,
  consumerConfig: Omit<ConsumerConfig, 'groupId'>,
  onGivenUp: () => void,
): Promise<IndexReader> {
  const byTopic = new Map(topics.map((t) => [t.topic, t]));
  const consumer = kafka.consumer({ ...consumerConfig, groupId: `${groupPrefix}index.${randomUUID()}` });
  // kafkajs restarts a crashed consumer itself unless the error is not retriable.
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) onGivenUp();
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: topics.map((t) => t.topic), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        const t = byTopic.get(batch.topic);
        if (!t) return;
        for (const message of batch.messages)
          t.index.fromReader(batch.partition, Number(message.offset), decodeMessage(t.stream, batch.partition, message));
        await heartbeat();
      },
    });
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    throw err;
  }
  return { stop: () => consumer.disconnect() };
}
