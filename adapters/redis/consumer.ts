import { deliverBatch, retryInPlace as retryEventInPlace, type Outcome } from '../shared/batch-delivery.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { RedisClient } from './connection.ts';
import { batchHandlerOf, type Recorded, type StreamName, type SubscribeOptions, type Subscription } from '../../domain/ports/event-log.ts';
import { asEntries, fromEntry, replayedFor } from './scripts.ts';
import { ackCommand, createGroup, entriesByKey, idsByKey, withCounts, type Delivery, type Lane } from './group-reads.ts';
import type { Logger as PortLogger } from '../../domain/ports/logger.ts';

export type Logger = Pick<PortLogger, 'warn' | 'error'>;

export interface GroupReaderOptions extends SubscribeOptions {
  /** A dedicated connection: blocking reads would stall a shared one. Owned (closed) by the reader. */
  readonly conn: RedisClient;
  readonly stream: StreamName;
  /**
   * The stream key read, or several (shards of one stream, each owned by this member): one
   * multi-key XREADGROUP then reads them all, so one wake carries what every key got. One server
   * only: on a Cluster the shards sit in different hash slots, which no single command may span.
   */
  readonly keys: Lane | readonly Lane[];
  readonly claimIdleMs: number;
  /** Times claim checks (XAUTOCLAIM every ~claimIdleMs). */
  readonly clock: Clock;
  /** Deliveries (XPENDING count) of an entry whose handler fails for good before it is dead-lettered. */
  readonly maxDeliveries: number;
  /** Longest wait between retries of a failing handler (also kept under claimIdleMs / 2). */
  readonly maxRetryDelayMs?: number;
  readonly blockMs: number;
  readonly batchSize?: number;
  readonly logger: Logger;
  readonly onDeadLetter: () => void;
}

const DEAD_LETTER_MAXLEN = 10_000;
/** Deliveries without an acknowledgement, in multiples of maxDeliveries, that mark an entry members crash on. */
const POISON_FACTOR = 4;

/**
 * One member of a consumer group, reading sequentially (so in stream order, hence per-key order,
 * within the member). Given several keys, it reads them all with each command (multi-key
 * XREADGROUP; XPENDING, XAUTOCLAIM and XACK per key) and hands their entries over as one batch, each
 * key's in its order. Redis Streams do not partition a group by key: two members may each hold
 * events of one key at the same time; the port asks order per member, and handlers are idempotent.
 *
 * Each turn takes the first of:
 *  1. its own pending entries (XREADGROUP … 0): at start, after an error or reconnect;
 *  2. every ~claimIdleMs, entries idle that long on any member (XAUTOCLAIM): a crashed member's work;
 *  3. new entries (XREADGROUP … > BLOCK, at most until the next claim check).
 * An entry is acked only after its handler resolved; a read's entries go to the handler as one batch
 * and are acked with one multi-id XACK. A failing handler is retried in place, so
 * the entries behind it wait (order per key): a transient failure (a backend refusing writes) until
 * it passes, a permanent one (domain/failures.ts) until the entry has been delivered maxDeliveries
 * times (XPENDING's count). Then it goes to the `:dead` stream and is acked, in one MULTI (same hash
 * slot). So does an entry delivered 4 × maxDeliveries times without an ack: members crash on it.
 */
export async function startGroupReader(o: GroupReaderOptions): Promise<Subscription> {
  const { conn, group, consumer } = o;
  const lanes: readonly Lane[] = Array.isArray(o.keys) ? o.keys : [o.keys as Lane];
  const laneOf = new Map(lanes.map((l) => [l.stream, l]));
  const batch = o.batchSize ?? 100;
  const handler = batchHandlerOf(o);
  const createGroups = () => Promise.all(lanes.map((l) => createGroup(conn, l.stream, group, o.from ?? 'start')));
  await createGroups();

  let stopping = false;
  let aborted = false;
  /** True while a handler runs and until its ack: a graceful close waits for that, nothing else. */
  let handling = false;
  /** Keys whose own pending entries are still to be read (all of them at start, after an error or reconnect). */
  let ownPending = new Set(lanes);
  let nextClaimAt = 0;
  // Kept under claimIdleMs / 2: the retried entry is touched again before another member may claim it.
  const backoff = { baseMs: 50, maxMs: Math.max(1, Math.min(o.maxRetryDelayMs ?? 5_000, o.claimIdleMs / 2)) };
  /** XAUTOCLAIM cursors of the keys whose scan of the group's PEL goes on. */
  const claimCursors = new Map<Lane, string>();
  /** Acks sent but not yet answered: pipelined rather than awaited one by one (a round trip per event). */
  const acks: Promise<unknown>[] = [];
  /** Handled, not acknowledged yet: acked in one write with the next blocking read, or on its own before any other command. */
  const owed = idsByKey();
  /** Sends the acknowledgement of what `ids` holds (one command for every key: ackCommand), answered later. */
  const sendAck = (ids: ReturnType<typeof idsByKey>) => {
    const owing = ids.take();
    if (owing.length === 0) return;
    const [name, args] = ackCommand(group, owing);
    acks.push(conn.call(name, ...args).catch(() => undefined));
  };
  const sendOwed = () => sendAck(owed);
  const flushAcks = () => {
    sendOwed();
    return Promise.all(acks.splice(0));
  };
  let wake = () => {};
  const woken = new Promise<void>((r) => (wake = r));
  const pause = (ms: number) => Promise.race([woken, new Promise<void>((r) => setTimeout(r, ms).unref())]);

  // Whatever a lost connection was handed but never answered sits in our PEL: read it first.
  conn.on('ready', () => void (ownPending = new Set(lanes)));

  async function nextBatch(): Promise<Delivery[]> {
    if (ownPending.size > 0 || o.clock.now() >= nextClaimAt) await flushAcks(); // what is re-read must not be what was just handled
    if (ownPending.size > 0) {
      const reading = [...ownPending];
      const byKey = entriesByKey(await conn.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', batch, 'STREAMS', ...reading.map((l) => l.stream), ...reading.map(() => '0')));
      const read: Delivery[][] = [];
      for (const lane of reading) {
        const entries = byKey.get(lane.stream) ?? [];
        if (entries.length === 0) ownPending.delete(lane);
        else read.push(await withCounts(conn, group, consumer, lane, entries));
      }
      return read.flat();
    }
    if (o.clock.now() >= nextClaimAt) {
      const claiming = claimCursors.size > 0 ? [...claimCursors.keys()] : lanes;
      const claimed = await Promise.all(
        claiming.map(async (lane) => {
          const reply = (await conn.call('XAUTOCLAIM', lane.stream, group, consumer, o.claimIdleMs, claimCursors.get(lane) ?? '0-0', 'COUNT', batch)) as unknown[];
          const cursor = typeof reply[0] === 'string' ? reply[0] : '0-0';
          if (cursor === '0-0') claimCursors.delete(lane);
          else claimCursors.set(lane, cursor);
          return withCounts(conn, group, consumer, lane, asEntries(reply[1]));
        }),
      );
      // A cursor other than 0-0 means the scan of that key's PEL goes on: continue next turn.
      nextClaimAt = claimCursors.size === 0 ? o.clock.now() + o.claimIdleMs : 0;
      const entries = claimed.flat();
      if (entries.length > 0) return entries;
      if (nextClaimAt === 0) return [];
    }
    const block = Math.max(1, Math.min(o.blockMs, nextClaimAt - o.clock.now()));
    const read = ['GROUP', group, consumer, 'COUNT', batch, 'BLOCK', block, 'STREAMS', ...lanes.map((l) => l.stream), ...lanes.map(() => '>')];
    let reply: unknown;
    const owing = owed.take();
    if (owing.length === 0) reply = await conn.call('XREADGROUP', ...read);
    else {
      // Redis runs them in order: the acknowledgement (one command for every key) lands before the read blocks.
      const [name, args] = ackCommand(group, owing);
      const replies = await conn.pipeline().call(name, ...args).call('XREADGROUP', ...read).exec();
      const [err, value] = replies?.[1] ?? [new Error('pipeline aborted'), null];
      if (err) throw err;
      reply = value;
    }
    const delivered: Delivery[] = [];
    for (const [key, entries] of entriesByKey(reply)) {
      const lane = laneOf.get(key);
      if (lane) for (const entry of entries) delivered.push({ lane, entry, deliveries: 1 });
    }
    return delivered;
  }

  type Ready = { lane: Lane; id: string; fields: string[]; deliveries: number; event: Recorded };

  /**
   * What one read returned, as one batch: trimmed or foreign entries acked, undecodable or poison
   * ones dead-lettered, the rest handed to the handler at once and acked with one multi-id XACK.
   * An entry the handler fails on is retried in place (below) before the rest of the batch goes on.
   */
  async function handleBatch(batchOf: Delivery[]): Promise<boolean> {
    handling = true;
    const done = idsByKey();
    // Sent now, answered later: ioredis keeps order on the connection, so the ack precedes the next read.
    const ackDone = () => sendAck(done);
    try {
      const ready: Ready[] = [];
      for (const { lane, entry: [id, fields], deliveries } of batchOf) {
        // Trimmed away by retention before it was handled, or a dead letter replayed for another group.
        if (!fields || (replayedFor(fields) ?? group) !== group) {
          done.add(lane.stream, id);
          continue;
        }
        let event;
        try {
          event = fromEntry(o.stream, id, fields);
        } catch (err) {
          o.logger.error({ err, stream: o.stream, id }, 'undecodable stream entry: dead-lettered');
          await deadLetter(lane, id, fields, deliveries, err);
          continue;
        }
        if (deliveries > POISON_FACTOR * o.maxDeliveries) {
          // Delivered that often without an ack: members crash on it (a poison pill). Not merely
          // maxDeliveries: a reconnect re-reads the pending entries too, and an outage may bring many.
          o.logger.error({ stream: o.stream, group, id, deliveries }, 'event exceeded maxDeliveries: dead-lettered');
          await deadLetter(lane, id, fields, deliveries, new Error(`delivered ${deliveries} times without being acknowledged`));
          continue;
        }
        ready.push({ lane, id, fields, deliveries, event });
      }
      const finished = await deliverBatch(
        ready.map((r) => r.event),
        {
          handler,
          handled: (from, to) => {
            for (let i = from; i < to; i++) done.add(ready[i]!.lane.stream, ready[i]!.id);
          },
          flush: async () => ackDone(), // what was handled is acked before a retry that may take long
          aborted: () => aborted,
          retry: async (i, err) => {
            const outcome = await retryInPlace(ready[i]!, err);
            if (outcome === 'handled') done.add(ready[i]!.lane.stream, ready[i]!.id);
            return outcome;
          },
        },
      );
      if (!finished) return false;
      // Acked with the next read (one round trip for both), not on its own.
      for (const [key, ids] of done.take()) for (const id of ids) owed.add(key, id);
      return true;
    } finally {
      handling = false;
    }
  }

  /** A failing handler is retried in place (the entries behind it wait): see the comment above. */
  function retryInPlace(r: Ready, firstError: unknown): Promise<Outcome> {
    return retryEventInPlace(r.event, firstError, r.deliveries, {
      handler,
      maxDeliveries: o.maxDeliveries,
      backoff,
      pause: async (ms) => {
        handling = false;
        await pause(ms);
        handling = true;
      },
      // Closing: still pending, read again on restart or claimed by another member.
      stopping: () => stopping,
      aborted: () => aborted,
      deadLetter: async (err, deliveries) => {
        o.logger.error({ err, stream: o.stream, group, id: r.id, deliveries }, 'event handler failed for good: dead-lettered');
        await deadLetter(r.lane, r.id, r.fields, deliveries, err);
      },
      // Ours again (idle time reset), without counting a delivery (JUSTID). Empty: another member
      // claimed it meanwhile (it handles it now), or it is gone: move on.
      beforeAttempt: async () => {
        const kept = await conn.call('XCLAIM', r.lane.stream, group, consumer, 0, r.id, 'JUSTID').catch(() => null);
        return !(Array.isArray(kept) && kept.length === 0);
      },
      onFailure: (err, attempt, deliveries, kind) => {
        if (attempt === 1 || attempt % 20 === 0)
          o.logger.warn({ err, stream: o.stream, group, consumer, id: r.id, deliveries, attempt, kind }, 'event handler failed: will retry');
      },
    });
  }

  async function deadLetter(lane: Lane, id: string, fields: string[], deliveries: number, error: unknown): Promise<void> {
    const why = error instanceof Error ? error.message : String(error);
    const meta = ['originalId', id, 'group', group, 'consumer', consumer, 'deliveries', String(deliveries), 'error', why];
    const [[err] = [null]] = (await conn
      .multi()
      .call('XADD', lane.dead, 'MAXLEN', '~', DEAD_LETTER_MAXLEN, '*', ...fields, ...meta)
      .call('XACK', lane.stream, group, id)
      .exec()) ?? [[new Error('dead-letter transaction aborted')]];
    if (err) throw err;
    o.onDeadLetter();
  }

  const loop = (async () => {
    let errors = 0;
    while (!stopping) {
      try {
        const deliveries = await nextBatch();
        if (!stopping && deliveries.length > 0) await handleBatch(deliveries);
        await Promise.all(acks.splice(0)); // acks a retry sent mid-batch; what the batch owes goes with the next read
        errors = 0;
      } catch (err) {
        if (stopping) break;
        errors++;
        ownPending = new Set(lanes);
        if (/NOGROUP/.test(String(err))) await createGroups().catch(() => undefined);
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
