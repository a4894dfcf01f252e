import type { Admin, ConsumerConfig, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { deliverBatch, retryInPlace } from '../shared/batch-delivery.ts';
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
 * One member of a Kafka consumer group. The group's committed offset is the acknowledgement: a
 * fetched partition batch goes to the handler as one batch (adapters/shared/batch-delivery.ts) and
 * its offsets are committed once, after the handler resolved, so anything a member was handed and
 * did not finish is fetched again by whoever owns the partition next (rebalance).
 *
 * An event the handler fails on is retried here, in place, with backoff and heartbeats in between,
 * rather than by seeking back: same redelivery, without a refetch, and the member keeps its
 * partitions meanwhile; what the batch handled before it is committed first. A transient failure (a
 * backend refusing writes) is retried until it passes; a permanent one (domain/failures.ts)
 * maxDeliveries times, then dead-lettered; then the rest of the batch goes on. A handler that runs
 * longer than the rebalance timeout loses its partitions to the group.
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
  let wake!: () => void;
  const woken = new Promise<void>((r) => (wake = r));
  // Functions, not comparisons: TypeScript would narrow `state` across the awaits that change it.
  const isAborted = () => state === 'aborted';
  const isStopping = () => state !== 'running';
  const pause = (ms: number) => Promise.race([woken, new Promise<void>((r) => setTimeout(r, ms))]);
  const backoff = { baseMs: settings.retryDelayMs, maxMs: settings.maxRetryDelayMs };
  const heartbeatEveryMs = settings.consumerConfig.heartbeatInterval ?? 3_000;

  /**
   * One fetched partition batch: its decoded events go to the handler at once, in offset order, and
   * its offsets are committed once when it is done. Offsets are resolved as events are handled (the
   * next fetch starts after them) and committed before a retry that may take long, so a crash or a
   * rebalance then redelivers only what was not handled. Undecodable records are skipped: not ours.
   */
  async function handleBatch({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> {
    const { partition, messages } = batch;
    const last = messages.at(-1);
    if (!last) return;
    const ready: { event: Recorded; message: KafkaMessage }[] = [];
    for (const message of messages) {
      const event = decodeMessage(settings.stream, partition, message);
      if (event) ready.push({ event, message });
    }
    const firstOffset = Number(messages[0]!.offset);
    // Once the first `upTo` events are done, the next offset to read is the event after them (what
    // could not be decoded before it is done too), or the end of the batch.
    const nextAfter = (upTo: number) => (upTo < ready.length ? Number(ready[upTo]!.message.offset) : Number(last.offset) + 1);
    let next = firstOffset;
    let committed = firstOffset;
    const doneUpTo = (upTo: number) => {
      const n = nextAfter(upTo);
      if (n <= next) return;
      next = n;
      resolveOffset(String(n - 1));
    };
    const commit = async () => {
      if (next === committed || isAborted()) return;
      const offset = next;
      try {
        await consumer.commitOffsets([{ topic, partition, offset: String(offset) }]);
        committed = offset;
      } catch (err) {
        // The next commit covers this one; if the partition moved on, its new owner redelivers (at-least-once).
        logger.warn({ err, groupId: settings.groupId, partition, offset }, 'kafka offset commit failed');
      }
    };

    // A long batch must not cost the member its partitions: heartbeat while the handler runs. A
    // failed beat (the group rebalancing) is kafkajs' to act on at its own next heartbeat, after this batch.
    const beating = async (events: readonly Recorded[]) => {
      const timer = setInterval(() => void heartbeat().catch(() => undefined), heartbeatEveryMs);
      try {
        await handler(events);
      } finally {
        clearInterval(timer);
      }
    };
    const done = await deliverBatch(
      ready.map((r) => r.event),
      {
        handler: beating,
        handled: (_from, to) => doneUpTo(to),
        flush: commit,
        aborted: isAborted,
        retry: async (index, error) => {
          const { event, message } = ready[index]!;
          const outcome = await retryInPlace(event, error, 1, {
            handler: beating,
            maxDeliveries: settings.maxDeliveries,
            backoff,
            pause,
            stopping: isStopping,
            aborted: isAborted,
            deadLetter: (err) => settings.onDeadLetter(event, message, err),
            // Throws while the group rebalances: kafkajs rejoins, and the offset is still uncommitted.
            beforeAttempt: async () => {
              await heartbeat();
              return true;
            },
          });
          if (outcome !== 'stop') doneUpTo(index + 1);
          return outcome;
        },
      },
    );
    if (done) doneUpTo(ready.length);
    await commit();
  }

  try {
    // subscribe() fetches metadata, which also creates a missing topic where the broker allows it.
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: options.from !== 'end' });
    if (options.from === 'end') seekNewPartitionsToEnd(await endOfUncommitted(settings));

    await consumer.run({
      autoCommit: false,
      // What is not resolved is fetched again: a batch left half done (closing, crashed) is not skipped.
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => {
        // Closing or crashed: leave the batch uncommitted for the partition's next owner. Stale: a
        // seek (from: 'end') moved the partition after this batch was fetched.
        if (state !== 'running' || payload.isStale()) return;
        const work = handleBatch(payload);
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
      wake();
      stopped ??= (async () => {
        while (inFlight) await Promise.race([inFlight, aborted]);
        await consumer.disconnect();
      })();
      await stopped;
    },
    async abort() {
      state = 'aborted';
      abortNow();
      wake();
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
