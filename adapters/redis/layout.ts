import type { StreamDescriptor, StreamName } from '../../domain/ports/event-log.ts';
import { keysOf, shardOf } from './scripts.ts';

export type StreamKeys = ReturnType<typeof keysOf>;

/**
 * Where each stream lives in Redis, read from its descriptor: a sharded stream (`sharded`) is split
 * into `shards` keys by entity, each with its own hash tag; the others are one key. Retention is
 * per stream, so each shard keeps its share.
 */
export function streamLayout(prefix: string, shards: number, maxLength: Partial<Record<StreamName, number>> = {}) {
  const shardsOf = (stream: StreamDescriptor<StreamName>) => (stream.sharded ? Math.max(1, Math.floor(shards)) : 1);
  return {
    /** The keys an entity's events go to: its shard's on a sharded stream. */
    keysFor(stream: StreamDescriptor<StreamName>, key: string): StreamKeys {
      const n = shardsOf(stream);
      return n > 1 ? keysOf(prefix, stream.name, shardOf(key, n)) : keysOf(prefix, stream.name);
    },
    /** Every key of the stream: one, or one per shard. */
    allKeys(stream: StreamDescriptor<StreamName>): StreamKeys[] {
      const n = shardsOf(stream);
      return n > 1 ? Array.from({ length: n }, (_, i) => keysOf(prefix, stream.name, i)) : [keysOf(prefix, stream.name)];
    },
    shardOf: (stream: StreamDescriptor<StreamName>, key: string) => shardOf(key, shardsOf(stream)),
    shardsOf,
    /** `XADD … MAXLEN ~ n` for one key of the stream; undefined keeps all. */
    maxLenOf(stream: StreamDescriptor<StreamName>): number | undefined {
      const max = maxLength[stream.name];
      return max ? Math.ceil(max / shardsOf(stream)) : undefined;
    },
  };
}

export type StreamLayout = ReturnType<typeof streamLayout>;
