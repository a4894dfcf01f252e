import { DomainError } from '../../domain/errors.ts';
import { systemClock, type Clock } from '../../domain/ports/clock.ts';
import { typedEventLog, type EventLogBackend, type Recorded, type StreamName, type Subscription } from '../../domain/ports/event-log.ts';
import { answersWithin, subscriptionSet } from '../shared/subscriptions.ts';
import { redisAppender } from './append.ts';
import { connectLogged, endpointOf, type RedisLocation } from './connection.ts';
import { startGroupReader, type Logger } from './consumer.ts';
import { STREAM_ID, redisDeadLetters } from './dead-letters.ts';
import { streamLayout } from './layout.ts';
import { asEntries, compareIds, fromEntry, fromHistory, replayedFor } from './scripts.ts';

/** One server (`url`) or a Redis Cluster (`clusterNodes`): the key layout is the same on both. */
export interface RedisEventLogOptions extends RedisLocation {
  /** Namespace for every key (tests use one per log). Must not contain `{`. Default `ridecast:`. */
  readonly prefix?: string;
  /** Retention: `XADD … MAXLEN ~ n` per stream (approximate: Redis trims whole nodes). Histories are kept whole. */
  readonly maxLength?: Partial<Record<StreamName, number>>;
  /** An entry pending this long on a member is taken over by another (XAUTOCLAIM); also the claim poll interval. */
  readonly claimIdleMs?: number;
  /** Deliveries of one entry (XPENDING count) whose handler fails for good before it goes to the `:dead` stream. */
  readonly maxDeliveries?: number;
  /** Longest wait between retries of a failing handler (transient failures are retried until they pass). */
  readonly maxRetryDelayMs?: number;
  /** Longest blocking read (XREADGROUP BLOCK); shorter when a claim check is due. */
  readonly blockMs?: number;
  /** Appends and reads that get no answer in this long fail (a frozen server), so callers answer 503. Default 2000. */
  readonly commandTimeoutMs?: number;
  /**
   * A sharded stream (`driver-locations`) split into this many streams by driver (own hash tag each:
   * spread over a cluster's masters). Default 1: the single key `{driver-locations}`. Every instance of
   * one deployment must use the same count (changing it moves drivers to other shards; see README).
   */
  readonly locationShards?: number;
  /** Stamps GPS points' `recordedAtMs` and times claim checks. Default the system clock. */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/**
 * The event log on Redis Streams (key layout and Cluster reasoning in ./scripts.ts and ./layout.ts;
 * appends in ./append.ts, group readers in ./consumer.ts, dead letters in ./dead-letters.ts).
 * eventId = `<stream>:<redis id>`, position = the Redis stream id.
 */
export function getRedisEventLog(options: RedisEventLogOptions) {
  const prefix = options.prefix ?? 'ridecast:';
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  const maxDeliveries = options.maxDeliveries ?? 5;
  const blockMs = options.blockMs ?? 5_000;
  const clock = options.clock ?? systemClock;
  const logger: Logger = options.logger ?? console;
  const subs = subscriptionSet();
  let deadLetterCount = 0;
  let closed = false;
  const endpoint = endpointOf(options);
  const layout = streamLayout(prefix, options.locationShards ?? 1, options.maxLength);

  // GPS appends are single commands on the hot path: auto-pipelining batches them per tick.
  // One retry while the connection is down and a command timeout for a frozen server: a request fails
  // within seconds (503) rather than after ioredis's 20 retries. Blocking group reads use their own connections.
  const main = connectLogged(endpoint, logger, 'main', {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 2_000,
  });
  const append = redisAppender(main, layout, clock);
  const dead = redisDeadLetters(main, layout);

  const assertOpen = () => {
    if (closed) throw new DomainError('LOG_CLOSED', 503, 'the event log is closed');
  };
  /** Removes a group from every key of the stream (an ephemeral group's start and graceful end). */
  const destroyGroup = (keys: { stream: string }[], group: string) =>
    Promise.all(keys.map((k) => main.call('XGROUP', 'DESTROY', k.stream, group).catch(() => undefined)));

  const backend = {
    /** Entries this log's subscriptions set aside as dead letters. */
    deadLetterCount: () => deadLetterCount,

    async append(stream, key, events, appendOptions) {
      assertOpen();
      return append(stream, key, events, appendOptions);
    },

    async readKey(stream, key) {
      assertOpen();
      const items = await main.lrange(layout.keysFor(stream, key).history(key), 0, -1);
      return items.map((json) => fromHistory(stream.name, key, json));
    },

    async read(stream, { after, limit } = {}) {
      assertOpen();
      if (after !== undefined && !STREAM_ID.test(after)) throw new DomainError('INVALID_POSITION', 400, `not a stream position: ${after}`);
      if (limit !== undefined && limit <= 0) return [];
      const count = limit !== undefined && Number.isFinite(limit) ? ['COUNT', Math.floor(limit)] : [];
      // A sharded stream reads every shard from the same id and merges by id (time order across
      // shards; a shard's own order, so each driver's, is kept exactly). Each shard gives at most
      // `limit`, so the first `limit` of the merge are exact for what was there at the read.
      const shards = layout.allKeys(stream);
      const replies = await Promise.all(shards.map((k) => main.call('XRANGE', k.stream, after === undefined ? '-' : `(${after}`, '+', ...count)));
      const entries = replies.length === 1 ? asEntries(replies[0]) : replies.flatMap((r) => asEntries(r));
      if (shards.length > 1) entries.sort((x, y) => compareIds(x[0], y[0]));
      const out: Recorded[] = [];
      for (const [id, fields] of entries) {
        if (limit !== undefined && out.length >= limit) break;
        if (fields && replayedFor(fields) === null) out.push(fromEntry(stream.name, id, fields));
      }
      return out;
    },

    async deadLetters(stream, limits) {
      assertOpen();
      return dead.deadLetters(stream, limits);
    },

    async replayDeadLetter(id) {
      assertOpen();
      return dead.replayDeadLetter(id);
    },

    async subscribe(stream, subscribeOptions) {
      assertOpen();
      const { group, consumer, ephemeral } = subscribeOptions;
      const shards = layout.allKeys(stream);
      // An ephemeral group left behind by a crash would resume where it stopped: start it over.
      if (ephemeral) await destroyGroup(shards, group);
      // One reader per shard, each on its own connection (blocking reads; a shard may sit on another
      // master). All share the group and member name: a member reads a shard in order, so one
      // driver's points in order; a crashed member's pending entries are claimed shard by shard.
      const readers: Subscription[] = [];
      try {
        for (const keys of shards) {
          // Commands fail during an outage so the reader's loop logs, backs off and tries again.
          const conn = connectLogged(endpoint, logger, `${keys.stream}/${group}/${consumer}`, { maxRetriesPerRequest: 2, enableAutoPipelining: false });
          try {
            readers.push(
              await startGroupReader({
                ...subscribeOptions,
                conn,
                stream: stream.name,
                keys,
                claimIdleMs,
                maxDeliveries,
                maxRetryDelayMs: options.maxRetryDelayMs,
                blockMs,
                clock,
                logger,
                onDeadLetter: () => void deadLetterCount++,
              }),
            );
          } catch (err) {
            conn.disconnect();
            throw err;
          }
        }
      } catch (err) {
        await Promise.all(readers.map((r) => r.abort()));
        throw err;
      }
      return subs.track({
        close: async () => {
          await Promise.all(readers.map((r) => r.close()));
          // Gracefully ended: nobody resumes an ephemeral group, so it goes (a crash leaves it for the restart to reset).
          if (ephemeral && main.status === 'ready') await destroyGroup(shards, group);
        },
        abort: async () => void (await Promise.all(readers.map((r) => r.abort()))),
      });
    },

    async ping() {
      // Between reconnect attempts the server is known to be down: answer at once.
      if (closed || main.status === 'reconnecting' || main.status === 'end') return false;
      return answersWithin(async () => (await main.ping()) === 'PONG', 1_000);
    },

    async close() {
      if (closed) return;
      closed = true;
      await subs.closeAll();
      if (main.status === 'ready') await main.quit().catch(() => undefined);
      main.disconnect();
    },
  } satisfies EventLogBackend & Record<string, unknown>;
  return typedEventLog(backend);
}

export type RedisEventLog = ReturnType<typeof getRedisEventLog>;
