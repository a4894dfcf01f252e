import { eventIdOf, type Recorded, type StreamName } from '../../domain/ports/event-log.ts';

/** Entries per storage chunk: retention releases whole chunks, so memory follows maxLength. */
const CHUNK = 4_096;

/**
 * CHUNK consecutive entries of a stream, column by column. An event is held as its data plus a few
 * slots (type, key, version, time) rather than as a Recorded object with a metadata object, two
 * strings and a boxed number: retained, that was 380 bytes and 9 objects per GPS point, now 180 bytes
 * and 4 (the point's own data), so a full log is half the heap to mark and far fewer objects to copy
 * out of the young generation. Delivery and reads build the Recorded, which dies young.
 */
interface Chunk {
  readonly types: string[];
  readonly data: unknown[];
  readonly keys: string[];
  readonly versions: number[];
  readonly at: Float64Array;
}

/**
 * One stream's entries, by 1-based index (the position). Appending is O(1) and never copies what is
 * held (no single array that grows by copying itself); `trim` drops the oldest and releases every
 * chunk wholly behind them, so what is held stays within the retention however long the log runs.
 */
export function makeEntries(stream: StreamName) {
  const chunks: Chunk[] = [];
  /** chunks[0] holds indexes [base, base + CHUNK). */
  let base = 1;
  /** The index the next append takes. */
  let end = 1;
  /** The oldest retained index. */
  let first = 1;

  const chunkOf = (index: number) => chunks[Math.floor((index - base) / CHUNK)]!;

  return {
    /** The oldest retained index. */
    first: () => first,
    /** The index the next append takes. */
    end: () => end,
    retained: (index: number) => index >= first && index < end,

    /** Stores one event; its index. */
    push(type: string, data: unknown, key: string, version: number, recordedAtMs: number): number {
      const index = end++;
      let c = chunks.at(-1);
      if (!c || (index - base) % CHUNK === 0) chunks.push((c = { types: [], data: [], keys: [], versions: [], at: new Float64Array(CHUNK) }));
      c.types.push(type);
      c.data.push(data);
      c.keys.push(key);
      c.versions.push(version);
      c.at[(index - base) % CHUNK] = recordedAtMs;
      return index;
    },

    /** The key of a retained entry (which member gets it), without building the event. */
    keyAt(index: number): string {
      return chunkOf(index).keys[(index - base) % CHUNK]!;
    },

    /** The entry at `index` as a Recorded (built now), or undefined when trimmed by retention. */
    at(index: number): Recorded | undefined {
      if (index < first || index >= end) return undefined;
      const c = chunkOf(index);
      const i = (index - base) % CHUNK;
      const position = String(index);
      return {
        type: c.types[i]!,
        data: c.data[i],
        metadata: { eventId: eventIdOf(stream, position), stream, position, key: c.keys[i]!, version: c.versions[i]!, recordedAtMs: c.at[i]! },
      } as Recorded;
    },

    /** Keeps at most `max` entries: the oldest go first. */
    trim(max: number): void {
      first = Math.max(first, end - max);
      while (chunks.length > 0 && base + CHUNK <= first) {
        chunks.shift();
        base += CHUNK;
      }
    },
  };
}

export type Entries = ReturnType<typeof makeEntries>;
