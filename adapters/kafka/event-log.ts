import type { KafkaMessage } from 'kafkajs';
import { DomainError, versionConflict } from '../../domain/errors.ts';
import { systemClock } from '../../domain/ports/clock.ts';
import { STREAMS, streams, typedEventLog, type Event, type EventLogBackend, type Recorded, type StreamName } from '../../domain/ports/event-log.ts';
import { answersWithin, subscriptionSet } from '../shared/subscriptions.ts';
import { createClients, createMissingTopics, freshGroupId, type KafkaEventLogOptions } from './client.ts';
import { encodeEvent, parsePosition, recordedFrom } from './codec.ts';
import { startIndexReader, type IndexReader } from './index-reader.ts';
import { keyLock } from './key-lock.ts';
import type { Logger } from './logging.ts';
import { createStreamIndex, type PartitionOffsets, type StreamIndex } from './stream-index.ts';
import { joinGroup } from './subscription.ts';

export type { KafkaEventLogOptions } from './client.ts';

export type KafkaEventLog = ReturnType<typeof getKafkaEventLog>;

const keepsHistory = (stream: StreamName) => streams[stream].keepsHistory;

/**
 * The event log on Kafka (kafkajs). One topic per stream, `<topicPrefix><stream>`; the entity key is
 * the record key, so one entity's events share a partition and keep their order; the value is the
 * event as plain JSON. position = `<partition>-<offset>`, eventId = `<stream>:<position>`.
 *
 * Kafka can neither read one key nor write conditionally, so each process materializes the topics
 * in memory (./stream-index.ts): a background reader consumes rides and drivers from the beginning
 * (GPS only once someone read()s it); readKey, read and version checks first wait until that index
 * has reached the broker's high watermarks, so they see every write acknowledged before the call.
 * Appends add their own records at once, so a process reads its own writes without a round trip.
 * The cost: memory for every ride and driver event, and a full replay when a process starts.
 *
 * Concurrency, honestly: expectedVersion is checked under a per-key lock in this process, against an
 * index just caught up with the broker. Two processes can still both pass the check for the same
 * version in the same moment, and both writes land: Kafka would need a single writer per partition
 * (partition ownership through a group, or a fenced transactional producer per partition), which this
 * adapter does not provide by itself. With `versionArbiter` (shared claims, e.g. Redis `SET NX`), a
 * writer first claims (entity, version) and only one process per version gets through: several
 * instances may then match and write at once. Without it, run one writer process for rides and
 * drivers, or use the Redis adapter, whose append is one atomic script.
 *
 * Partitions: read() needs one order per stream. With one partition (the default) it is the
 * partition's offset order, exact. With several, it is (recordedAtMs, partition, offset), the same in
 * every process but only as good as the writers' clocks, while work-sharing groups get parallelism.
 * The librdkafka mock auto-creates topics with 4 partitions; with `partitions: 1` the adapter writes
 * only partition 0 of them, so a group member holding partitions 1-3 simply gets nothing.
 */
export function getKafkaEventLog(options: KafkaEventLogOptions) {
  const prefix = options.topicPrefix ?? 'ridecast.';
  const partitions = Math.max(1, options.partitions ?? 1);
  const maxDeliveries = options.maxDeliveries ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 200;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 5_000;
  const catchUpTimeoutMs = options.catchUpTimeoutMs ?? 15_000;
  const pingTimeoutMs = options.pingTimeoutMs ?? 3_000;
  const logger: Logger = options.logger ?? console;
  const clock = options.clock ?? systemClock;
  const { kafka, admin, producer, consumerConfig } = createClients(options, logger);
  const topicOf = (stream: StreamName) => `${prefix}${stream}`;
  const deadTopicOf = (stream: StreamName) => `${prefix}${stream}.dead`;

  const indexes = new Map<StreamName, StreamIndex>(
    STREAMS.map((s) => [s, createStreamIndex({ keepHistory: keepsHistory(s), maxEvents: (options.readWindow ?? {})[s] ?? (keepsHistory(s) ? Infinity : 100_000) })]),
  );
  const indexOf = (stream: StreamName) => indexes.get(stream)!;
  const readers = new Map<'history' | 'gps', Promise<IndexReader>>();
  const subs = subscriptionSet();
  const withKey = keyLock();
  let started: Promise<void> | null = null;
  let deadLetterCount = 0;
  let closed = false;

  const assertOpen = () => {
    if (closed) throw new DomainError('LOG_CLOSED', 503, 'the event log is closed');
  };

  function start(): Promise<void> {
    started ??= (async () => {
      await admin.connect();
      await producer.connect().catch((err: unknown) => {
        // An idempotent producer asks the controller for its id; the librdkafka mock names a controller it does not have.
        if ((options.idempotent ?? true) && err instanceof Error && err.name === 'KafkaJSBrokerNotFound')
          throw new Error(`${err.message}: the idempotent producer found no controller (the librdkafka mock has none: pass idempotent: false)`, { cause: err });
        throw err;
      });
      if (options.createTopics ?? true) await createMissingTopics(admin, { prefix, partitions, retentionMs: options.retentionMs, logger });
    })().catch((err: unknown) => {
      started = null; // the next call tries again
      throw err;
    });
    return started;
  }

  /** The reader for `stream`'s topic group: rides and drivers share one, GPS has its own (started on demand). */
  function readerFor(stream: StreamName): Promise<IndexReader> {
    const which = keepsHistory(stream) ? 'history' : 'gps';
    let reader = readers.get(which);
    if (!reader) {
      const streams = STREAMS.filter((s) => keepsHistory(s) === (which === 'history'));
      const forget = () => {
        if (readers.get(which) === reader) readers.delete(which);
      };
      // A reader that stops for good is replaced on the next call; the index skips what it already holds.
      reader = start().then(() =>
        startIndexReader(kafka, streams.map((s) => ({ stream: s, topic: topicOf(s), index: indexOf(s) })), prefix, consumerConfig, forget),
      );
      readers.set(which, reader);
      reader.catch(forget);
    }
    return reader;
  }

  /** Waits until the index holds everything the broker had acknowledged when this was called. */
  async function catchUp(stream: StreamName): Promise<void> {
    await readerFor(stream);
    const index = indexOf(stream);
    const offsets: PartitionOffsets[] = (await admin.fetchTopicOffsets(topicOf(stream))).map((p) => ({
      partition: p.partition,
      low: Number(p.low),
      high: Number(p.high),
    }));
    for (const p of offsets) index.startAt(p.partition, p.low);
    await index.waitUntil(() => index.covers(offsets), catchUpTimeoutMs);
  }

  async function produce(stream: StreamName, key: string, events: readonly Event[], versionAt: (i: number) => number) {
    const recordedAtMs = clock.now();
    const [meta] = await producer.send({
      topic: topicOf(stream),
      acks: -1,
      messages: events.map((e, i) => ({ key, value: encodeEvent(e, key, versionAt(i), recordedAtMs), timestamp: String(recordedAtMs) })),
    });
    if (!meta) throw new DomainError('LOG_UNAVAILABLE', 503, 'kafka acknowledged the append without an offset');
    const { partition } = meta;
    const base = Number(meta.baseOffset);
    const recorded = events.map((e, i) =>
      recordedFrom(stream, partition, base + i, { type: e.type, data: e.data, key, version: versionAt(i), recordedAtMs }),
    );
    return { partition, base, recorded };
  }

  async function deadLetter(stream: StreamName, group: string, event: Recorded, message: KafkaMessage, error: unknown) {
    deadLetterCount++;
    try {
      await producer.send({
        topic: deadTopicOf(stream),
        acks: -1,
        messages: [
          {
            key: event.metadata.key,
            value: message.value,
            headers: { group, eventId: event.metadata.eventId, error: error instanceof Error ? error.message : String(error) },
          },
        ],
      });
    } catch (err) {
      logger.error({ err, eventId: event.metadata.eventId, group }, 'dead letter not recorded');
    }
  }

  /** This process's mark on the version claims it wins: its own retry of a claim is not a conflict. */
  const writerId = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const versionClaimTtlMs = options.versionClaimTtlMs ?? 5_000;
  const versionKey = (stream: StreamName, key: string, from: number) => `version:${prefix}${stream}/${key}@${from}`;

  /**
   * Kafka has no conditional write: with several processes, each checks versions against its own
   * index, and two could both write version v+1. The arbiter (shared claims) lets one writer per
   * (entity, version) through; the claim outlives the window in which another process's index could
   * still show version v (a produce and a catch-up), so a late writer finds the record instead.
   */
  async function claimVersion(stream: StreamName, key: string, from: number): Promise<boolean> {
    if (!options.versionArbiter) return true;
    const holder = await options.versionArbiter.claim(versionKey(stream, key, from), writerId, versionClaimTtlMs);
    return holder === null || holder === writerId;
  }

  // Readers take seconds to join and replay: begin at once rather than on the first call.
  readerFor('rides').catch((err: unknown) => logger.warn({ err }, 'kafka event log: start failed, will retry on use'));

  const backend = {
    /** Events this log's subscriptions set aside as dead letters. */
    deadLetterCount: () => deadLetterCount,

    async append({ name: stream }, key, events, { expectedVersion } = {}) {
      assertOpen();
      if (!keepsHistory(stream)) {
        // GPS: no entity history, nothing to check against, no lock on the hot path.
        if (expectedVersion !== undefined && expectedVersion !== 0) throw versionConflict(stream, key, expectedVersion, 0);
        if (events.length === 0) return [];
        await start();
        const { partition, base, recorded } = await produce(stream, key, events, (i) => (expectedVersion === undefined ? 0 : i + 1));
        if (readers.has('gps')) indexOf(stream).fromAppend(partition, base, recorded);
        return recorded;
      }
      return withKey(`${stream}\u0000${key}`, async () => {
        let current = 0;
        const giveUpAt = clock.now() + versionClaimTtlMs + 1_000;
        for (let attempt = 1; ; attempt++) {
          await catchUp(stream);
          current = indexOf(stream).versionOf(key);
          if (expectedVersion !== undefined && expectedVersion !== current) throw versionConflict(stream, key, expectedVersion, current);
          if (events.length === 0) return [];
          if (await claimVersion(stream, key, current)) break;
          // Another writer holds this version: either its record is on its way (the next catch-up
          // shows it: a conditional append then conflicts, an unconditional one goes after it), or
          // that writer died between claim and produce (the claim lapses within the TTL). Wait for
          // whichever comes first rather than refuse: a dead writer must not block the entity.
          if (clock.now() > giveUpAt) throw versionConflict(stream, key, expectedVersion ?? current, current + 1);
          await new Promise((r) => setTimeout(r, Math.min(25 * attempt, 250)));
        }
        const index = indexOf(stream);
        // A failed produce keeps its claim (the record may have landed all the same): this process
        // may retry that version; others wait for the record or for the claim to lapse.
        const { partition, base, recorded } = await produce(stream, key, events, (i) => current + i + 1);
        index.fromAppend(partition, base, recorded);
        // Applied at once unless another process wrote just before us: then the reader fills that gap first.
        await index.waitUntil(() => index.applied(partition, base + events.length - 1), catchUpTimeoutMs);
        return recorded;
      });
    },

    async readKey({ name: stream }, key) {
      assertOpen();
      if (!keepsHistory(stream)) return [];
      await catchUp(stream);
      return indexOf(stream).history(key);
    },

    async read({ name: stream }, { after, limit = Infinity } = {}) {
      assertOpen();
      if (after !== undefined && !parsePosition(after)) throw new DomainError('INVALID_POSITION', 400, `not a stream position: ${after}`);
      await catchUp(stream);
      return indexOf(stream).slice(after, limit);
    },

    async subscribe({ name: stream }, subscribeOptions) {
      assertOpen();
      await start();
      const named = `${prefix}${stream}.${subscribeOptions.group}`;
      const groupId = subscribeOptions.ephemeral ? await freshGroupId(admin, named, writerId) : named;
      const member = await joinGroup(
        {
          kafka,
          admin,
          stream,
          topic: topicOf(stream),
          groupId,
          consumerConfig,
          maxDeliveries,
          retryDelayMs,
          maxRetryDelayMs,
          logger,
          onDeadLetter: (event, message, error) => deadLetter(stream, subscribeOptions.group, event, message, error),
        },
        subscribeOptions,
      );
      if (closed) {
        await member.close();
        assertOpen();
      }
      if (!subscribeOptions.ephemeral) return subs.track(member);
      return subs.track({
        close: async () => {
          await member.close();
          // Gracefully ended: nobody resumes an ephemeral group (a crash leaves it; the broker expires its offsets).
          await admin.deleteGroups([groupId]).catch((err: unknown) => logger.warn({ err, groupId }, 'kafka: ephemeral group not deleted'));
        },
        abort: () => member.abort(),
      });
    },

    async ping() {
      if (closed) return false;
      return answersWithin(async () => (await start(), await admin.describeCluster(), true), pingTimeoutMs);
    },

    async close() {
      if (closed) return;
      closed = true;
      await subs.closeAll();
      const err = new DomainError('LOG_CLOSED', 503, 'the event log is closed');
      for (const index of indexes.values()) index.close(err);
      await Promise.allSettled([...readers.values()].map(async (r) => (await r).stop()));
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    },
  } satisfies EventLogBackend & Record<string, unknown>;
  return typedEventLog(backend);
}
