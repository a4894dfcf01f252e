import type { Admin, ConsumerConfig, Kafka, KafkaMessage } from 'kafkajs';
import { backoffMs, classifyFailure } from '../../domain/failures.ts';
import { batchHandlerOf, type Recorded, type StreamName, type SubscribeOptions, type Subscription } from '../../domain/ports/event-log.ts';
import { decodeMessage } from './codec.ts';
import type { Logger } from './logging.ts';

export interface GroupMemberSettings {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly stream: StreamName;
  readonly topic: string;
  readonly groupId: string;
  readonly consumerConfig: Omit<ConsumerConfig, 'groupId'>;
  /** Deliveries of one event whose handler fails for good (first try included) before it is set aside as a dead letter. */
  readonly maxDeliveries: number;
  /** Backoff between deliveries: retryDelayMs × 2^(attempt-1), at most maxRetryDelayMs. */
  readonly retryDelayMs: number;
  readonly maxRetryDelayMs: number;
  readonly logger: Logger;
  readonly onDeadLetter: (event: Recorded, message: KafkaMessage, error: unknown) => Promise<void>;
}

/**
 * One member of a Kafka consumer group. The group's committed offset is the acknowledgement: an
 * event's offset is committed only after its handler resolved, so anything a member was handed and
 * did not finish is fetched again by whoever owns the partition next (rebalance).
 *
 * A failing handler is retried here, with backoff and heartbeats in between, rather than by seeking
 * back: same redelivery, without a refetch, and the member keeps its partitions meanwhile. A transient
 * failure (a backend refusing writes) is retried until it passes; a permanent one (domain/failures.ts)
 * maxDeliveries times, then dead-lettered. A handler that runs longer than the session timeout loses
 * its partitions to the group.
 */
export async function joinGroup(settings: GroupMemberSettings, options: SubscribeOptions): Promise<Subscription> {
  let current: Subscription | null = null;
  let ended = false;
  // kafkajs restarts a consumer after a retriable crash by itself; after any other it stays down
  // for good. Leaving a group without a member while /readyz says 200 is worse than rejoining.
  const rejoin = async (error: unknown) => {
    settings.logger.error({ err: error, groupId: settings.groupId }, 'kafka consumer crashed for good: rejoining the group');
    await current?.abort().catch(() => undefined);
    for (let attempt = 1; !ended; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 10_000)));
      if (ended) return;
      try {
        current = await joinGroupOnce(settings, options, rejoin);
        settings.logger.warn({ groupId: settings.groupId, attempt }, 'kafka consumer rejoined its group');
        return;
      } catch (err) {
        settings.logger.warn({ err, groupId: settings.groupId, attempt }, 'kafka rejoin failed: retrying');
      }
    }
  };
  current = await joinGroupOnce(settings, options, rejoin);
  return {
    async close() {
      ended = true;
      await current?.close();
    },
    async abort() {
      ended = true;
      await current?.abort();
    },
  };
}

async function joinGroupOnce(settings: GroupMemberSettings, options: SubscribeOptions, onCrash: (error: unknown) => void): Promise<Subscription> {
  const handler = batchHandlerOf(options);
  const { topic, logger } = settings;
  const consumer = settings.kafka.consumer({ ...settings.consumerConfig, groupId: settings.groupId });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart && state === 'running') onCrash(payload.error);
  });
  let state: 'running' | 'stopping' | 'aborted' = 'running';
  let inFlight: Promise<void> | null = null;
  let stopped: Promise<void> | null = null;
  let abortNow!: () => void;
  const aborted = new Promise<void>((r) => (abortNow = r));
  // A function, not a comparison: TypeScript would narrow `state` across the awaits that change it.
  const isAborted = () => state === 'aborted';
  const pause = (ms: number) => Promise.race([aborted, new Promise<void>((r) => setTimeout(r, ms))]);

  async function handle(partition: number, message: KafkaMessage, heartbeat: () => Promise<void>): Promise<void> {
    const event = decodeMessage(settings.stream, partition, message);
    if (event) {
      const backoff = { baseMs: settings.retryDelayMs, maxMs: settings.maxRetryDelayMs };
      let deliveries = 0;
      for (let attempt = 1; ; attempt++) {
        deliveries++;
        try {
          await handler([event]);
          break;
        } catch (err) {
          if (isAborted()) return;
          if (classifyFailure(err) === 'permanent' && deliveries >= settings.maxDeliveries) {
            await settings.onDeadLetter(event, message, err);
            break;
          }
          await pause(backoffMs(attempt, backoff));
          if (isAborted()) return;
          // Throws while the group rebalances: kafkajs rejoins, and the offset is still uncommitted.
          await heartbeat();
        }
      }
    }
    if (isAborted()) return;
    try {
      await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
    } catch (err) {
      // The next commit covers this one; if the partition moved on, its new owner redelivers (at-least-once).
      logger.warn({ err, groupId: settings.groupId, partition, offset: message.offset }, 'kafka offset commit failed');
    }
  }

  try {
    // subscribe() fetches metadata, which also creates a missing topic where the broker allows it.
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: options.from !== 'end' });
    if (options.from === 'end') seekNewPartitionsToEnd(await endOfUncommitted(settings));

    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message, heartbeat }) => {
        // Closing or crashed: leave the rest uncommitted for the partition's next owner.
        if (state !== 'running') return;
        const work = handle(partition, message, heartbeat);
        inFlight = work.then(
          () => undefined,
          () => undefined,
        );
        try {
          await Promise.race([work, aborted]);
        } finally {
          inFlight = null;
        }
      },
    });
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    throw err;
  }

  /**
   * `from: 'end'` means the end as of subscribe(), not as of whenever the join completes (seconds
   * later): partitions the group has never committed start at the offsets read before joining.
   */
  function seekNewPartitionsToEnd(ends: Map<number, string>): void {
    if (ends.size === 0) return;
    const stopListening = consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      stopListening();
      for (const partition of payload.memberAssignment[topic] ?? []) {
        const offset = ends.get(partition);
        if (offset === undefined) continue;
        try {
          consumer.seek({ topic, partition, offset });
        } catch (err) {
          logger.warn({ err, groupId: settings.groupId, partition }, 'kafka seek to the end failed; starting at the latest offset');
        }
      }
    });
  }

  return {
    async close() {
      if (state === 'running') state = 'stopping';
      stopped ??= (async () => {
        while (inFlight) await Promise.race([inFlight, aborted]);
        await consumer.disconnect();
      })();
      await stopped;
    },
    async abort() {
      state = 'aborted';
      abortNow();
      stopped ??= consumer.disconnect();
      await stopped;
    },
  };
}

/** High watermarks of the partitions this group has no committed offset for. */
async function endOfUncommitted({ admin, topic, groupId }: GroupMemberSettings): Promise<Map<number, string>> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const has = new Set((committed?.partitions ?? []).filter((p) => Number(p.offset) >= 0).map((p) => p.partition));
  const ends = new Map<number, string>();
  for (const p of await admin.fetchTopicOffsets(topic)) if (!has.has(p.partition)) ends.set(p.partition, p.high);
  return ends;
}
