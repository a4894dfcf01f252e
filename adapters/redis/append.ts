import { versionConflict } from '../../domain/errors.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { AppendOptions, Event, Recorded, StreamDescriptor, StreamName } from '../../domain/ports/event-log.ts';
import type { RedisClient } from './connection.ts';
import type { StreamLayout } from './layout.ts';
import { APPEND_LUA, EVENT_FIELD, SHARD_APPEND_LUA, entryValue, recorded } from './scripts.ts';

type AppendReply = [recordedAtMs: number | string, firstVersion: number | string, ...ids: string[]];
type WithAppend = RedisClient & {
  ridecastAppend(...args: (string | number)[]): Promise<AppendReply>;
  ridecastShardAppend(...args: (string | number)[]): Promise<unknown>;
};

/**
 * Appends on Redis Streams. A stream that keeps histories goes through one Lua script (version
 * check + XADD + history + version bump, atomic in one hash slot); a stream of facts without
 * histories (GPS) is a plain XADD on the hot path, or the shard script when it is sharded.
 */
export function redisAppender(conn: RedisClient, layout: StreamLayout, clock: Clock) {
  const main = conn as WithAppend;
  main.defineCommand('ridecastAppend', { numberOfKeys: 3, lua: APPEND_LUA });
  main.defineCommand('ridecastShardAppend', { numberOfKeys: 1, lua: SHARD_APPEND_LUA });

  /** No history, no version check: version 0, one XADD (MULTI only for several points). */
  async function appendFacts(stream: StreamDescriptor<StreamName>, key: string, events: readonly Event[], datas: string[]): Promise<Recorded[]> {
    const k = layout.keysFor(stream, key);
    const maxLen = layout.maxLenOf(stream);
    const at = clock.now();
    const made = (ids: string[]) => ids.map((id, i) => recorded(stream.name, id, events[i]!.type, key, 0, events[i]!.data, at));
    if (layout.shardsOf(stream) > 1) {
      const pairs = events.flatMap((e, i) => [e.type, datas[i]!]);
      return made((await main.ridecastShardAppend(k.stream, layout.shardOf(stream, key), layout.shardsOf(stream), maxLen ?? '', key, at, ...pairs)) as string[]);
    }
    const args = (i: number) => [k.stream, ...(maxLen ? ['MAXLEN', '~', maxLen] : []), '*', EVENT_FIELD, entryValue(events[i]!.type, key, 0, at, datas[i]!)];
    if (events.length === 1) return made([(await main.call('XADD', ...args(0))) as string]);
    const tx = main.multi();
    events.forEach((_, i) => tx.call('XADD', ...args(i)));
    const replies = (await tx.exec()) ?? [];
    return made(
      replies.map(([err, id]) => {
        if (err) throw err;
        return id as string;
      }),
    );
  }

  return async function append(stream: StreamDescriptor<StreamName>, key: string, events: readonly Event[], { expectedVersion }: AppendOptions = {}): Promise<Recorded[]> {
    if (events.length === 0) return [];
    const datas = events.map((e) => JSON.stringify(e.data ?? null));
    if (expectedVersion === undefined && !stream.keepsHistory) return appendFacts(stream, key, events, datas);

    const k = layout.keysFor(stream, key);
    const args = [key, expectedVersion ?? '', layout.maxLenOf(stream) ?? '', stream.keepsHistory ? '1' : '0', ...events.flatMap((e, i) => [e.type, datas[i]!])];
    let reply: AppendReply;
    try {
      reply = await main.ridecastAppend(k.stream, k.versions, k.history(key), ...args);
    } catch (err) {
      const m = /VERSION_CONFLICT (\d+)/.exec(String((err as Error)?.message));
      if (m) throw versionConflict(stream.name, key, expectedVersion ?? 0, Number(m[1]));
      throw err;
    }
    const [at, first, ...ids] = reply;
    return ids.map((id, i) => recorded(stream.name, id, events[i]!.type, key, Number(first) + i, events[i]!.data, Number(at)));
  };
}
