import { DomainError } from '../../domain/errors.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import { parsePosition } from './codec.ts';

/** What ListOffsets says about one partition: `low` is the oldest retained offset, `high` the next to be written. */
export interface PartitionOffsets {
  readonly partition: number;
  readonly low: number;
  readonly high: number;
}

export interface StreamIndexOptions {
  /** Keep each key's whole history (rides, drivers) for readKey and version checks. */
  readonly keepHistory: boolean;
  /** Keep about this many events for read(), oldest dropped first; histories are kept whole. */
  readonly maxEvents?: number;
}

interface Entry {
  /** recordedAtMs, made non-decreasing along its partition so one partition's order is its offset order. */
  readonly sortTs: number;
  readonly partition: number;
  readonly offset: number;
  readonly event: Recorded;
}

interface PartitionState {
  /** The next offset to apply; undefined until the reader or ListOffsets tells where the partition starts. */
  next: number | undefined;
  lastTs: number;
  /** Appended records that arrived ahead of a gap the reader has not filled yet (another writer's records). */
  readonly held: Map<number, Recorded | null>;
}

interface Waiter {
  readonly check: () => boolean;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const compare = (a: Entry, b: Entry) => a.sortTs - b.sortTs || a.partition - b.partition || a.offset - b.offset;

export type StreamIndex = ReturnType<typeof createStreamIndex>;

/**
 * One topic materialized in memory: each partition applied strictly in offset order, whoever
 * supplies the records (the background reader, or an append that already knows its offsets).
 *
 * Read order across partitions is (recordedAtMs, partition, offset), with recordedAtMs made
 * non-decreasing within each partition. Every process computes the same order from the same
 * records, and with one partition it is exactly offset order. With several partitions it follows
 * the writers' clocks: a concurrent writer whose clock lags can place an event before a position a
 * reader already passed. That is why the adapter writes one partition per topic by default.
 */
export function createStreamIndex({ keepHistory, maxEvents = Infinity }: StreamIndexOptions) {
  const partitions = new Map<number, PartitionState>();
  const ordered: Entry[] = [];
  const byPosition = new Map<string, Entry>();
  const byKey = new Map<string, Recorded[]>();
  const waiters = new Set<Waiter>();
  // Trimming in chunks keeps the cost of dropping from the front of the array amortized.
  const trimSlack = Number.isFinite(maxEvents) ? Math.max(1, Math.floor(maxEvents / 8)) : 0;
  let closedWith: Error | null = null;

  function stateOf(partition: number): PartitionState {
    let s = partitions.get(partition);
    if (!s) partitions.set(partition, (s = { next: undefined, lastTs: -Infinity, held: new Map() }));
    return s;
  }

  function apply(s: PartitionState, partition: number, offset: number, event: Recorded | null): void {
    s.next = offset + 1;
    if (!event) return;
    const sortTs = Math.max(s.lastTs, event.metadata.recordedAtMs);
    s.lastTs = sortTs;
    const entry: Entry = { sortTs, partition, offset, event };
    // New entries almost always sort last: search from the end.
    let i = ordered.length;
    while (i > 0 && compare(ordered[i - 1]!, entry) > 0) i--;
    ordered.splice(i, 0, entry);
    byPosition.set(event.metadata.position, entry);
    if (keepHistory) {
      const history = byKey.get(event.metadata.key);
      if (history) history.push(event);
      else byKey.set(event.metadata.key, [event]);
    }
  }

  function drainHeld(s: PartitionState, partition: number): void {
    while (s.next !== undefined && s.held.has(s.next)) {
      const offset = s.next;
      const event = s.held.get(offset)!;
      s.held.delete(offset);
      apply(s, partition, offset, event);
    }
  }

  function settle(): void {
    if (ordered.length > maxEvents + trimSlack) {
      for (const dropped of ordered.splice(0, ordered.length - maxEvents)) byPosition.delete(dropped.event.metadata.position);
    }
    for (const w of waiters) {
      if (!w.check()) continue;
      waiters.delete(w);
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  /** First index in `ordered` that sorts after `entry`. */
  function upperBound(entry: Entry): number {
    let lo = 0;
    let hi = ordered.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(ordered[mid]!, entry) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  return {
    /**
     * From the background reader, which sees each partition in offset order. A jump past `next`
     * means records that are gone (retention) or never reach consumers: skip them.
     */
    fromReader(partition: number, offset: number, event: Recorded | null): void {
      const s = stateOf(partition);
      if (s.next !== undefined && offset < s.next) return;
      for (const o of s.held.keys()) if (o <= offset) s.held.delete(o);
      apply(s, partition, offset, event);
      drainHeld(s, partition);
      settle();
    },

    /** From an append that knows its offsets: applied at once when nothing is missing before them. */
    fromAppend(partition: number, baseOffset: number, events: readonly Recorded[]): void {
      const s = stateOf(partition);
      events.forEach((e, i) => {
        if (s.next === undefined || baseOffset + i >= s.next) s.held.set(baseOffset + i, e);
      });
      drainHeld(s, partition);
      settle();
    },

    /** Where a partition starts, from ListOffsets, for a partition the reader has not delivered yet. */
    startAt(partition: number, low: number): void {
      const s = stateOf(partition);
      if (s.next !== undefined) return;
      s.next = low;
      for (const o of s.held.keys()) if (o < low) s.held.delete(o);
      drainHeld(s, partition);
      settle();
    },

    /** True once every record below each partition's high watermark is applied. */
    covers(offsets: readonly PartitionOffsets[]): boolean {
      return offsets.every(({ partition, low, high }) => high <= low || (partitions.get(partition)?.next ?? -1) >= high);
    },

    applied(partition: number, offset: number): boolean {
      return (partitions.get(partition)?.next ?? -1) > offset;
    },

    /** Resolves once `check` holds, re-checked whenever records are applied. */
    waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
      if (closedWith) return Promise.reject(closedWith);
      if (check()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w: Waiter = {
          check,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(w);
            reject(new DomainError('LOG_UNAVAILABLE', 503, `the kafka event log did not catch up within ${timeoutMs} ms`));
          }, timeoutMs),
        };
        waiters.add(w);
      });
    },

    versionOf(key: string): number {
      return byKey.get(key)?.length ?? 0;
    },

    history(key: string): Recorded[] {
      return [...(byKey.get(key) ?? [])];
    },

    /** Events strictly after `after` in read order (see above). */
    slice(after: string | undefined, limit: number): Recorded[] {
      let from = 0;
      if (after !== undefined) {
        const entry = byPosition.get(after);
        if (entry) from = upperBound(entry);
        else {
          const p = parsePosition(after);
          if (!p) throw new DomainError('INVALID_POSITION', 400, `not a stream position: ${after}`);
          // Not retained here (trimmed, or a record that is not an event): go on from its partition's next event.
          const i = ordered.findIndex((e) => e.partition === p.partition && e.offset > p.offset);
          from = i < 0 ? ordered.length : i;
        }
      }
      const out: Recorded[] = [];
      for (let i = from; i < ordered.length && out.length < limit; i++) out.push(ordered[i]!.event);
      return out;
    },

    /** Fails every pending and later wait with `err`. */
    close(err: Error): void {
      closedWith = err;
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(err);
      }
      waiters.clear();
    },
  };
}
