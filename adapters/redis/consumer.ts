import { backoffMs, classifyFailure } from '../../domain/failures.ts';
import type { RedisClient } from './connection.ts';
import type { StreamName, SubscribeOptions, Subscription } from '../../domain/ports/event-log.ts';
import { asEntries, entriesOfRead, fromEntry, replayedFor, type keysOf, type RawEntry } from './scripts.ts';

export interface Logger {
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export interface GroupReaderOptions extends SubscribeOptions {
  /** A dedicated connection: blocking reads would stall a shared one. Owned (closed) by the reader. */
  readonly conn: RedisClient;
  readonly stream: StreamName;
  readonly keys: ReturnType<typeof keysOf>;
  readonly claimIdleMs: number;
  /** Deliveries (XPENDING count) of an entry whose handler fails for good before it is dead-lettered. */
  readonly maxDeliveries: number;
  /** Longest wait between retries of a failing handler (also kept under claimIdleMs / 2). */
  readonly maxRetryDelayMs?: number;
  readonly blockMs: number;
  readonly batchSize?: number;
  readonly logger: Logger;
  readonly onDeadLetter: () => void;
}

interface Delivery {
  readonly entry: RawEntry;
  /** Times Redis handed this entry out (XPENDING), this delivery included. */
  readonly deliveries: number;
}

const DEAD_LETTER_MAXLEN = 10_000;
/** Deliveries without an acknowledgement, in multiples of maxDeliveries, that mark an entry members crash on. */
const POISON_FACTOR = 4;

/**
 * One member of a consumer group, reading sequentially (so in stream order, hence per-key order,
 * within the member). Redis Streams do not partition a group by key: two members may each hold
 * events of one key at the same time; the port asks order per member, and handlers are idempotent.
 *
 * Each turn takes the first of:
 *  1. its own pending entries (XREADGROUP … 0): at start, after an error or reconnect;
 *  2. every ~claimIdleMs, entries idle that long on any member (XAUTOCLAIM): a crashed member's work;
 *  3. new entries (XREADGROUP … > BLOCK, at most until the next claim check).
 * An entry is acked only after its handler resolved. A failing handler is retried in place, so
 * the entries behind it wait (order per key): a transient failure (a backend refusing writes) until
 * it passes, a permanent one (domain/failures.ts) until the entry has been delivered maxDeliveries
 * times (XPENDING's count). Then it goes to the `:dead` stream and is acked, in one MULTI (same hash
 * slot). So does an entry delivered 4 × maxDeliveries times without an ack: members crash on it.
 */
export async function startGroupReader(o: GroupReaderOptions): Promise<Subscription> {
  const { conn, keys, group, consumer } = o;
  const key = keys.stream;
  const batch = o.batchSize ?? 100;
  await createGroup(conn, key, group, o.from ?? 'start');

  let stopping = false;
  let aborted = false;
  /** True while a handler runs and until its ack: a graceful close waits for that, nothing else. */
  let handling = false;
  let ownPending = true;
  let nextClaimAt = 0;
  // Kept under claimIdleMs / 2: the retried entry is touched again before another member may claim it.
  const backoff = { baseMs: 50, maxMs: Math.max(1, Math.min(o.maxRetryDelayMs ?? 5_000, o.claimIdleMs / 2)) };
  let claimCursor = '0-0';
  /** Acks sent but not yet answered: pipelined rather than awaited one by one (a round trip per event). */
  const acks: Promise<unknown>[] = [];
  const flushAcks = () => Promise.all(acks.splice(0));
  let wake = () => {};
  const woken = new Promise<void>((r) => (wake = r));
  const pause = (ms: number) => Promise.race([woken, new Promise<void>((r) => setTimeout(r, ms).unref())]);

  // Whatever a lost connection was handed but never answered sits in our PEL: read it first.
  conn.on('ready', () => void (ownPending = true));

  async function nextBatch(): Promise<Delivery[]> {
    if (ownPending) {
      const entries = entriesOfRead(await conn.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', batch, 'STREAMS', key, '0'));
      if (entries.length === 0) ownPending = false;
      return withCounts(entries);
    }
    if (Date.now() >= nextClaimAt) {
      const reply = (await conn.call('XAUTOCLAIM', key, group, consumer, o.claimIdleMs, claimCursor, 'COUNT', batch)) as unknown[];
      claimCursor = typeof reply[0] === 'string' ? reply[0] : '0-0';
      // A cursor other than 0-0 means the scan of the group's PEL goes on: continue next turn.
      nextClaimAt = claimCursor === '0-0' ? Date.now() + o.claimIdleMs : 0;
      const entries = asEntries(reply[1]);
      if (entries.length > 0) return withCounts(entries);
      if (nextClaimAt === 0) return [];
    }
    const block = Math.max(1, Math.min(o.blockMs, nextClaimAt - Date.now()));
    const reply = await conn.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', batch, 'BLOCK', block, 'STREAMS', key, '>');
    return entriesOfRead(reply).map((entry) => ({ entry, deliveries: 1 }));
  }

  async function withCounts(entries: RawEntry[]): Promise<Delivery[]> {
    if (entries.length === 0) return [];
    const first = entries[0]![0];
    const last = entries[entries.length - 1]![0];
    const pending = (await conn.call('XPENDING', key, group, first, last, entries.length + 10, consumer)) as [string, string, number, number][];
    const counts = new Map(pending.map(([id, , , n]) => [id, Number(n)]));
    return entries.map((entry) => ({ entry, deliveries: counts.get(entry[0]) ?? 1 }));
  }

  /** Handles one delivery; false when the batch must stop here (stopping, or aborted). */
  async function handle({ entry: [id, fields], deliveries }: Delivery): Promise<boolean> {
    handling = true;
    try {
      // Trimmed away by retention before it was handled, or a dead letter replayed for another group.
      if (!fields || (replayedFor(fields) ?? group) !== group) {
        await conn.call('XACK', key, group, id);
        return true;
      }
      let event;
      try {
        event = fromEntry(o.stream, id, fields);
      } catch (err) {
        o.logger.error({ err, stream: o.stream, id }, 'undecodable stream entry: dead-lettered');
        await deadLetter(id, fields, deliveries, err);
        return true;
      }
      if (deliveries > POISON_FACTOR * o.maxDeliveries) {
        // Delivered that often without an ack: members crash on it (a poison pill). Not merely
        // maxDeliveries: a reconnect re-reads the pending entries too, and an outage may bring many.
        o.logger.error({ stream: o.stream, group, id, deliveries }, 'event exceeded maxDeliveries: dead-lettered');
        await deadLetter(id, fields, deliveries, new Error(`delivered ${deliveries} times without being acknowledged`));
        return true;
      }
      for (let attempt = 1; ; attempt++) {
        try {
          await o.handler(event);
          break;
        } catch (err) {
          if (aborted) return false;
          const kind = classifyFailure(err);
          if (kind === 'permanent' && deliveries >= o.maxDeliveries) {
            o.logger.error({ err, stream: o.stream, group, id, deliveries }, 'event handler failed for good: dead-lettered');
            await deadLetter(id, fields, deliveries, err);
            return true;
          }
          if (attempt === 1 || attempt % 20 === 0)
            o.logger.warn({ err, stream: o.stream, group, consumer, id, deliveries, attempt, kind }, 'event handler failed: will retry');
          handling = false;
          await pause(backoffMs(attempt, backoff));
          if (stopping) return false; // still pending: read again on restart, or claimed by another member
          handling = true;
          deliveries++;
          // Ours again (idle time reset), without counting a delivery (JUSTID). Empty: another member
          // claimed it meanwhile (it handles it now), or it is gone: move on.
          const kept = await conn.call('XCLAIM', key, group, consumer, 0, id, 'JUSTID').catch(() => null);
          if (Array.isArray(kept) && kept.length === 0) return true;
        }
      }
      if (aborted) return false;
      // Sent now, answered later: ioredis keeps order on the connection, so the ack precedes the next read.
      acks.push(conn.call('XACK', key, group, id).catch(() => undefined));
      return true;
    } finally {
      handling = false;
    }
  }

  async function deadLetter(id: string, fields: string[], deliveries: number, error: unknown): Promise<void> {
    const why = error instanceof Error ? error.message : String(error);
    const meta = ['originalId', id, 'group', group, 'consumer', consumer, 'deliveries', String(deliveries), 'error', why];
    const [[err] = [null]] = (await conn
      .multi()
      .call('XADD', keys.dead, 'MAXLEN', '~', DEAD_LETTER_MAXLEN, '*', ...fields, ...meta)
      .call('XACK', key, group, id)
      .exec()) ?? [[new Error('dead-letter transaction aborted')]];
    if (err) throw err;
    o.onDeadLetter();
  }

  const loop = (async () => {
    let errors = 0;
    while (!stopping) {
      try {
        for (const d of await nextBatch()) if (stopping || !(await handle(d))) break;
        await flushAcks();
        errors = 0;
      } catch (err) {
        if (stopping) break;
        errors++;
        ownPending = true;
        if (/NOGROUP/.test(String(err))) await createGroup(conn, key, group, o.from ?? 'start').catch(() => undefined);
        if (errors === 1 || errors % 50 === 0) o.logger.warn({ err, stream: o.stream, group, consumer }, 'stream read failed: retrying');
        await pause(Math.min(50 * 2 ** errors, 2_000));
      }
    }
  })();

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        stopping = true;
        wake();
        // No handler in flight: let the sent acks land, then cut a blocking read short.
        if (!handling) {
          await flushAcks();
          conn.disconnect();
        }
        await loop;
        await flushAcks();
        if (conn.status === 'ready') await conn.quit().catch(() => undefined);
        conn.disconnect();
      })();
      return closing;
    },
    async abort() {
      stopping = aborted = true;
      wake();
      conn.disconnect(); // as a crash: unacked entries stay pending for XAUTOCLAIM by another member
    },
  };
}

async function createGroup(conn: RedisClient, key: string, group: string, from: 'start' | 'end'): Promise<void> {
  try {
    await conn.call('XGROUP', 'CREATE', key, group, from === 'end' ? '$' : '0', 'MKSTREAM');
  } catch (err) {
    if (!/BUSYGROUP/.test(String(err))) throw err;
  }
}
