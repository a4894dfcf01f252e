import type { RedisOptions } from 'ioredis';
import { DomainError, versionConflict } from '../../domain/errors.ts';
import { STREAMS, type DeadLetter, type EventLog, type Recorded, type StreamName, type Subscription } from '../../domain/ports/event-log.ts';
import { endpointOf, openRedis, type RedisClient, type RedisEndpoint, type RedisLocation } from './connection.ts';
import { startGroupReader, type Logger } from './consumer.ts';
import { APPEND_LUA, SHARD_APPEND_LUA, asEntries, compareIds, fieldsOf, fromEntry, fromHistory, keysOf, recorded, replayedFor, shardKeysOf, shardOf } from './scripts.ts';

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
   * `driver-locations` split into this many streams by driver (own hash tag each: spread over a
   * cluster's masters). Default 1: the single key `{driver-locations}`. Every instance of one
   * deployment must use the same count (changing it moves drivers to other shards; see README).
   */
  readonly locationShards?: number;
  readonly logger?: Logger;
}

export type RedisEventLog = EventLog & Required<Pick<EventLog, 'deadLetters' | 'replayDeadLetter'>> & {
  /** Entries this log's subscriptions set aside as dead letters. */
  deadLetterCount(): number;
};

type AppendReply = [recordedAtMs: number | string, firstVersion: number | string, ...ids: string[]];
type WithAppend = RedisClient & {
  ridecastAppend(...args: (string | number)[]): Promise<AppendReply>;
  ridecastShardAppend(...args: (string | number)[]): Promise<unknown>;
};

const STREAM_ID = /^\d+-\d+$/;

/**
 * The event log on Redis Streams (key layout and Cluster reasoning in ./scripts.ts).
 * eventId = `<stream>:<redis id>`, position = the Redis stream id.
 */
export function getRedisEventLog(options: RedisEventLogOptions): RedisEventLog {
  const prefix = options.prefix ?? 'ridecast:';
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  const maxDeliveries = options.maxDeliveries ?? 5;
  const blockMs = options.blockMs ?? 5_000;
  const logger: Logger = options.logger ?? console;
  const subs = new Set<Subscription>();
  let deadLetters = 0;
  let closed = false;
  const endpoint = endpointOf(options);
  const locationShards = Math.max(1, Math.floor(options.locationShards ?? 1));
  /** The keys an entity's events go to: its shard's for a sharded stream. */
  const keysFor = (stream: StreamName, key: string) =>
    stream === 'driver-locations' && locationShards > 1 ? keysOf(prefix, stream, shardOf(key, locationShards)) : keysOf(prefix, stream);

  // GPS appends are single commands on the hot path: auto-pipelining batches them per tick.
  // One retry while the connection is down and a command timeout for a frozen server: a request fails
  // within seconds (503) rather than after ioredis's 20 retries. Blocking group reads use their own connections.
  const main = connect(endpoint, logger, 'main', {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 2_000,
  }) as WithAppend;
  main.defineCommand('ridecastAppend', { numberOfKeys: 3, lua: APPEND_LUA });
  main.defineCommand('ridecastShardAppend', { numberOfKeys: 1, lua: SHARD_APPEND_LUA });

  const assertOpen = () => {
    if (closed) throw new DomainError('LOG_CLOSED', 503, 'the event log is closed');
  };

  return {
    deadLetterCount: () => deadLetters,

    async append(stream, key, events, { expectedVersion } = {}) {
      assertOpen();
      if (events.length === 0) return [];
      const k = keysFor(stream, key);
      // Retention is per stream: each shard keeps its share.
      const maxLen = stream === 'driver-locations' && options.maxLength?.[stream] ? Math.ceil(options.maxLength[stream]! / locationShards) : options.maxLength?.[stream];
      const datas = events.map((e) => JSON.stringify(e.data ?? null));

      if (expectedVersion === undefined && stream === 'driver-locations') {
        // Hot path: a plain XADD (MULTI only for several points), version 0, no entity history.
        const at = Date.now();
        if (locationShards > 1) {
          const shard = shardOf(key, locationShards);
          const pairs = events.flatMap((e, i) => [e.type, datas[i]!]);
          const ids = (await main.ridecastShardAppend(k.stream, shard, locationShards, maxLen ?? '', key, at, ...pairs)) as string[];
          return ids.map((id, i) => recorded(stream, id, events[i]!.type, key, 0, events[i]!.data, at));
        }
        const args = (i: number) => [k.stream, ...(maxLen ? ['MAXLEN', '~', maxLen] : []), '*',
          'type', events[i]!.type, 'key', key, 'version', '0', 'data', datas[i]!, 'recordedAtMs', at];
        let ids: string[];
        if (events.length === 1) ids = [(await main.call('XADD', ...args(0))) as string];
        else {
          const tx = main.multi();
          events.forEach((_, i) => tx.call('XADD', ...args(i)));
          const replies = (await tx.exec()) ?? [];
          ids = replies.map(([err, id]) => {
            if (err) throw err;
            return id as string;
          });
        }
        return ids.map((id, i) => recorded(stream, id, events[i]!.type, key, 0, events[i]!.data, at));
      }

      const keepHistory = stream === 'driver-locations' ? '0' : '1';
      const args = [key, expectedVersion ?? '', maxLen ?? '', keepHistory, ...events.flatMap((e, i) => [e.type, datas[i]!])];
      let reply: AppendReply;
      try {
        reply = await main.ridecastAppend(k.stream, k.versions, k.history(key), ...args);
      } catch (err) {
        const m = /VERSION_CONFLICT (\d+)/.exec(String((err as Error)?.message));
        if (m) throw versionConflict(stream, key, expectedVersion ?? 0, Number(m[1]));
        throw err;
      }
      const [at, first, ...ids] = reply;
      return ids.map((id, i) => recorded(stream, id, events[i]!.type, key, Number(first) + i, events[i]!.data, Number(at)));
    },

    async readKey(stream, key) {
      assertOpen();
      const items = await main.lrange(keysFor(stream, key).history(key), 0, -1);
      return items.map((json) => fromHistory(stream, key, json));
    },

    async read(stream, { after, limit } = {}) {
      assertOpen();
      if (after !== undefined && !STREAM_ID.test(after)) throw new DomainError('INVALID_POSITION', 400, `not a stream position: ${after}`);
      if (limit !== undefined && limit <= 0) return [];
      const count = limit !== undefined && Number.isFinite(limit) ? ['COUNT', Math.floor(limit)] : [];
      // A sharded stream reads every shard from the same id and merges by id (time order across
      // shards; a shard's own order, so each driver's, is kept exactly). Each shard gives at most
      // `limit`, so the first `limit` of the merge are exact for what was there at the read.
      const shards = shardKeysOf(prefix, stream, locationShards);
      const replies = await Promise.all(shards.map((k) => main.call('XRANGE', k.stream, after === undefined ? '-' : `(${after}`, '+', ...count)));
      const entries = replies.flatMap((r) => asEntries(r));
      if (shards.length > 1) entries.sort((x, y) => compareIds(x[0], y[0]));
      const out: Recorded[] = [];
      for (const [id, fields] of entries) {
        if (limit !== undefined && out.length >= limit) break;
        if (fields && replayedFor(fields) === null) out.push(fromEntry(stream, id, fields));
      }
      return out;
    },

    async deadLetters(stream, { limit } = {}) {
      assertOpen();
      const count = limit !== undefined && Number.isFinite(limit) ? ['COUNT', Math.max(1, Math.floor(limit))] : [];
      // A sharded stream keeps its dead letters per shard (same slot as the shard): merged by id.
      const replies = await Promise.all(shardKeysOf(prefix, stream, locationShards).map((k) => main.call('XRANGE', k.dead, '-', '+', ...count)));
      const entries = replies.flatMap((r) => asEntries(r)).sort((x, y) => compareIds(x[0], y[0]));
      const out = entries.flatMap(([id, fields]) => (fields ? [deadLetterOf(stream, id, fields)] : []));
      return limit !== undefined && Number.isFinite(limit) ? out.slice(0, Math.max(1, Math.floor(limit))) : out;
    },

    async replayDeadLetter(id) {
      assertOpen();
      const [stream, deadId] = splitDeadLetterId(id);
      if (!stream) return false;
      // On a sharded stream the letter sits on one shard's dead stream: the first that has the id.
      let k = keysOf(prefix, stream);
      let fields: string[] | null = null;
      for (const candidate of shardKeysOf(prefix, stream, locationShards)) {
        [[, fields] = ['', null]] = asEntries(await main.call('XRANGE', candidate.dead, deadId, deadId));
        k = candidate;
        if (fields) break;
      }
      if (!fields) return false;
      const f = fieldsOf(fields);
      const original = ['type', 'key', 'version', 'data', 'recordedAtMs'].flatMap((name) => (f[name] === undefined ? [] : [name, f[name]!]));
      // Back on the stream for its group only, and off the dead letters, in one MULTI (one hash slot).
      const replies = await main
        .multi()
        .call('XADD', k.stream, '*', ...original, 'replayOf', f['originalId'] ?? deadId, 'replayFor', f['group'] ?? '')
        .call('XDEL', k.dead, deadId)
        .exec();
      for (const [err] of replies ?? []) if (err) throw err;
      return true;
    },

    async subscribe(stream, subscribeOptions) {
      assertOpen();
      // One reader per shard, each on its own connection (blocking reads; a shard may sit on another
      // master). All share the group and member name: a member reads a shard in order, so one
      // driver's points in order; a crashed member's pending entries are claimed shard by shard.
      const readers: Subscription[] = [];
      try {
        for (const keys of shardKeysOf(prefix, stream, locationShards)) {
          const conn = connect(endpoint, logger, `${keys.stream}/${subscribeOptions.group}/${subscribeOptions.consumer}`, {
            // Fail commands during an outage so the reader's loop logs, backs off and tries again.
            maxRetriesPerRequest: 2,
          });
          try {
            readers.push(
              await startGroupReader({
                ...subscribeOptions,
                conn,
                stream,
                keys,
                claimIdleMs,
                maxDeliveries,
                maxRetryDelayMs: options.maxRetryDelayMs,
                blockMs,
                logger,
                onDeadLetter: () => void deadLetters++,
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
      const reader: Subscription = {
        close: async () => void (await Promise.all(readers.map((r) => r.close()))),
        abort: async () => void (await Promise.all(readers.map((r) => r.abort()))),
      };
      const sub: Subscription = {
        close: () => reader.close().finally(() => subs.delete(sub)),
        abort: () => reader.abort().finally(() => subs.delete(sub)),
      };
      subs.add(sub);
      return sub;
    },

    async ping() {
      // Between reconnect attempts the server is known to be down: answer at once.
      if (closed || main.status === 'reconnecting' || main.status === 'end') return false;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), 1_000)));
      try {
        return await Promise.race([main.ping().then((p) => p === 'PONG'), timeout]);
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...subs].map((s) => s.close().catch(() => undefined)));
      if (main.status === 'ready') await main.quit().catch(() => undefined);
      main.disconnect();
    },
  };
}

/** A `:dead` stream entry: the original entry's fields plus who gave up on it, when, and why. */
function deadLetterOf(stream: StreamName, deadId: string, fields: string[]): DeadLetter {
  const f = fieldsOf(fields);
  let event: Recorded | null = null;
  try {
    event = fromEntry(stream, f['originalId'] ?? deadId, fields);
  } catch {
    // undecodable: listed without its event
  }
  return {
    id: `${stream}/${deadId}`,
    stream,
    group: f['group'] ?? '',
    event,
    error: f['error'] ?? '',
    deliveries: Number(f['deliveries'] ?? 0),
    deadAtMs: Number(deadId.split('-')[0]),
  };
}

function splitDeadLetterId(id: string): [StreamName | null, string] {
  const slash = id.indexOf('/');
  const stream = id.slice(0, slash) as StreamName;
  const deadId = id.slice(slash + 1);
  return slash > 0 && STREAMS.includes(stream) && STREAM_ID.test(deadId) ? [stream, deadId] : [null, ''];
}

/** A connection that reconnects forever (capped backoff) and logs an outage once, not per attempt. */
function connect(endpoint: RedisEndpoint, logger: Logger, name: string, extra: RedisOptions): RedisClient {
  const conn = openRedis(endpoint, {
    retryStrategy: (times) => Math.min(50 * 2 ** times, 1_000),
    ...extra,
  });
  let down = false;
  const lost = (err?: unknown) => {
    if (!down) logger.warn({ err, connection: name }, 'redis connection lost: reconnecting');
    down = true;
  };
  conn.on('error', lost); // also keeps ioredis from treating errors as unhandled
  conn.on('reconnecting', () => lost());
  conn.on('ready', () => {
    if (down) logger.warn({ connection: name }, 'redis connection restored');
    down = false;
  });
  return conn;
}
