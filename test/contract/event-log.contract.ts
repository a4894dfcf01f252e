import { afterEach, describe, expect, it } from 'vitest';
import { DomainError } from '../../domain/errors.ts';
import { batchFailure, type EventLog, type Recorded, type Subscription } from '../../domain/ports/event-log.ts';
import { waitFor } from '../support/wait.ts';
import { opaque, type OpaqueLog } from '../support/opaque-log.ts';

/** Makes a fresh, empty log (its own namespace) for one test. */
export type MakeEventLog = () => Promise<EventLog | OpaqueLog>;

const ev = (n: number, key = 'r_1') => ({ type: 'Numbered', data: { n, key } });
const nOf = (e: Recorded) => (e.data as { n: number }).n;
/** What ioredis throws when the server refuses writes (a replica after failover); any backend's refusal reads alike. */
const refusedWrite = () => Object.assign(new Error("READONLY You can't write against a read only replica."), { name: 'ReplyError' });

/**
 * The event-log contract (ARCHITECTURE.md): run unchanged against every adapter.
 * "Nothing more arrives" is never watched for a while: a sentinel is appended after what must not
 * come again, on every key it could come on, and the test waits until the sentinels have arrived.
 * Delivery is in order per key, so anything repeated or skipped-then-delivered on those keys would
 * have arrived before them.
 */
export function eventLogContract(name: string, makeLog: MakeEventLog, { timeoutMs = 20_000 } = {}) {
  describe(`event log contract: ${name}`, () => {
    const open: OpaqueLog[] = [];
    const subs: Subscription[] = [];
    const fresh = async () => {
      const log = opaque(await makeLog()) as OpaqueLog;
      open.push(log);
      return log;
    };
    const collect = async (log: OpaqueLog, group: string, consumer: string, into: Recorded[], from: 'start' | 'end' = 'start') => {
      const sub = await log.subscribe('rides', { group, consumer, from, handler: async (e) => void into.push(e) });
      subs.push(sub);
      return sub;
    };
    /**
     * Appends one sentinel per key, numbered from `n`, and waits until each group (what its members
     * received, as numbers) has all of them. Returns nothing: the caller then asserts on what came.
     */
    const sentinels = async (log: OpaqueLog, keys: readonly string[], n: number, groups: readonly (() => readonly number[])[]) => {
      const expected = keys.map((_, i) => n + i);
      for (const [i, key] of keys.entries()) await log.append('rides', key, [ev(n + i, key)]);
      await waitFor(() => groups.every((seen) => expected.every((x) => seen().includes(x))), `the sentinels ${expected.join(', ')}`, timeoutMs);
    };
    afterEach(async () => {
      await Promise.all(subs.splice(0).map((s) => s.close().catch(() => undefined)));
      await Promise.all(open.splice(0).map((l) => l.close().catch(() => undefined)));
    });

    it('appends events with versions per key and reads an entity back in order', async () => {
      const log = await fresh();
      const first = await log.append('rides', 'r_1', [ev(1), ev(2)], { expectedVersion: 0 });
      await log.append('rides', 'r_2', [ev(1, 'r_2')], { expectedVersion: 0 });
      await log.append('rides', 'r_1', [ev(3)], { expectedVersion: 2 });
      expect(first.map((e) => e.metadata.version)).toEqual([1, 2]);
      expect(first[0]!.metadata.eventId).toBe(`rides:${first[0]!.metadata.position}`);
      const history = await log.readKey('rides', 'r_1');
      expect(history.map(nOf)).toEqual([1, 2, 3]);
      expect(history.map((e) => e.metadata.version)).toEqual([1, 2, 3]);
      expect(history.every((e) => e.metadata.key === 'r_1' && e.metadata.stream === 'rides')).toBe(true);
      expect(await log.readKey('rides', 'r_404')).toEqual([]);
    });

    it('refuses a stale expected version and writes nothing', async () => {
      const log = await fresh();
      await log.append('rides', 'r_1', [ev(1)], { expectedVersion: 0 });
      await expect(log.append('rides', 'r_1', [ev(2)], { expectedVersion: 0 })).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
      expect((await log.readKey('rides', 'r_1')).map(nOf)).toEqual([1]);
      expect((await log.read('rides')).map(nOf)).toEqual([1]);
    });

    it('lets exactly one of many concurrent appends at the same version win', async () => {
      const log = await fresh();
      await log.append('drivers', 'd_1', [ev(0, 'd_1')], { expectedVersion: 0 });
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => log.append('drivers', 'd_1', [ev(i + 1, 'd_1')], { expectedVersion: 1 })),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost.every((r) => r.reason instanceof DomainError && r.reason.code === 'VERSION_CONFLICT')).toBe(true);
      expect(await log.readKey('drivers', 'd_1')).toHaveLength(2);
    });

    it('reads a stream from a position, in log order', async () => {
      const log = await fresh();
      for (let n = 1; n <= 5; n++) await log.append('rides', `r_${n % 2}`, [ev(n, `r_${n % 2}`)]);
      const all = await log.read('rides');
      expect(all.map(nOf)).toEqual([1, 2, 3, 4, 5]);
      const rest = await log.read('rides', { after: all[1]!.metadata.position });
      expect(rest.map(nOf)).toEqual([3, 4, 5]);
      expect((await log.read('rides', { after: all[1]!.metadata.position, limit: 2 })).map(nOf)).toEqual([3, 4]);
      expect(await log.read('rides', { after: all[4]!.metadata.position })).toEqual([]);
    });

    it('delivers every event to every group, each once within a group, in order per key', async () => {
      const log = await fresh();
      const a1: Recorded[] = [];
      const a2: Recorded[] = [];
      const b: Recorded[] = [];
      await collect(log, 'group-a', 'a1', a1);
      await collect(log, 'group-a', 'a2', a2);
      await collect(log, 'group-b', 'b1', b);
      for (let n = 1; n <= 40; n++) await log.append('rides', `r_${n % 4}`, [ev(n, `r_${n % 4}`)]);
      await waitFor(() => a1.length + a2.length >= 40 && b.length >= 40, 'both groups to see 40 events', timeoutMs);
      // A sentinel behind the last event of every key: any second delivery within a group comes first.
      await sentinels(log, ['r_0', 'r_1', 'r_2', 'r_3'], 41, [() => [...a1, ...a2].map(nOf), () => b.map(nOf)]);
      const a = [...a1, ...a2];
      expect(a.map(nOf).sort((x, y) => x - y)).toEqual(Array.from({ length: 44 }, (_, i) => i + 1));
      expect(b.map(nOf).sort((x, y) => x - y)).toEqual(Array.from({ length: 44 }, (_, i) => i + 1));
      for (const seen of [a1, a2, b]) {
        for (let k = 0; k < 4; k++) {
          const ns = seen.filter((e) => e.metadata.key === `r_${k}`).map(nOf);
          expect(ns).toEqual([...ns].sort((x, y) => x - y));
        }
      }
    });

    it('redelivers an event whose handler failed, until it succeeds', async () => {
      const log = await fresh();
      let failures = 0;
      const handled: number[] = [];
      subs.push(
        await log.subscribe('rides', {
          group: 'flaky',
          consumer: 'c1',
          handler: async (e) => {
            if (nOf(e) === 2 && failures < 2) {
              failures++;
              throw new Error('transient');
            }
            handled.push(nOf(e));
          },
        }),
      );
      for (let n = 1; n <= 3; n++) await log.append('rides', 'r_1', [ev(n)]);
      await waitFor(() => handled.includes(2) && handled.includes(3), 'the failed event to be redelivered', timeoutMs);
      expect(failures).toBe(2);
      expect(handled.filter((n) => n === 2)).toHaveLength(1);
    });

    it('keeps retrying an event whose handler meets a backend refusing writes, past the delivery limit, until it recovers', async () => {
      const log = await fresh();
      const refusals = 8; // more than the delivery limit of every adapter (5 by default)
      let failures = 0;
      const handled: number[] = [];
      subs.push(
        await log.subscribe('rides', {
          group: 'healing',
          consumer: 'c1',
          handler: async (e) => {
            if (nOf(e) === 2 && failures < refusals) {
              failures++;
              throw refusedWrite();
            }
            handled.push(nOf(e));
          },
        }),
      );
      for (let n = 1; n <= 3; n++) await log.append('rides', 'r_1', [ev(n)]);
      await waitFor(() => handled.includes(3), 'the event behind the refused one', timeoutMs);
      expect(failures).toBe(refusals);
      expect(handled).toEqual([1, 2, 3]);
      if (log.deadLetters) expect(await log.deadLetters('rides')).toEqual([]);
    });

    it('sets an event that can never succeed aside as a dead letter, moves on, and replays it on request', async () => {
      const log = await fresh();
      let attempts = 0;
      let fixed = false;
      const handled: Recorded[] = [];
      subs.push(
        await log.subscribe('rides', {
          group: 'poisoned',
          consumer: 'c1',
          handler: async (e) => {
            if (nOf(e) === 2 && !fixed) {
              attempts++;
              throw new DomainError('INVALID_TRANSITION', 409, 'ride r_1 is completed; cannot assign');
            }
            handled.push(e);
          },
        }),
      );
      for (let n = 1; n <= 3; n++) await log.append('rides', 'r_1', [ev(n)]);
      await waitFor(() => handled.some((e) => nOf(e) === 3), 'the event behind the poisoned one', timeoutMs);
      expect(handled.map(nOf)).toEqual([1, 3]);
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(attempts).toBeLessThanOrEqual(5);
      if (!log.deadLetters || !log.replayDeadLetter) {
        console.info(`[contract:${name}] dead letters cannot be listed or replayed through this adapter: skipped that part`);
        return;
      }
      const original = (await log.read('rides'))[1]!;
      const dead = await waitFor(async () => ((await log.deadLetters!('rides')).length > 0 ? log.deadLetters!('rides') : null), 'the dead letter', timeoutMs);
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ stream: 'rides', group: 'poisoned', error: 'ride r_1 is completed; cannot assign' });
      expect(dead[0]!.deliveries).toBe(attempts);
      expect(dead[0]!.event).toEqual(original);

      fixed = true;
      expect(await log.replayDeadLetter(dead[0]!.id)).toBe(true);
      await waitFor(() => handled.some((e) => nOf(e) === 2), 'the replayed event', timeoutMs);
      expect(handled.map(nOf)).toEqual([1, 3, 2]);
      expect(handled[2]).toEqual(original);
      expect(await log.deadLetters('rides')).toEqual([]);
      expect(await log.replayDeadLetter(dead[0]!.id)).toBe(false);
      // A replay is a redelivery, not a new event: the stream reads as before.
      expect((await log.read('rides')).map(nOf)).toEqual([1, 2, 3]);
    });

    it('hands a batch handler what one read returned, in order, each event once', async () => {
      const log = await fresh();
      // Appended before the group starts: the first read returns them together. Two events per append,
      // keys interleaved: the librdkafka mock answers a fetch with one append's record batch, a broker with many.
      for (let n = 1; n <= 20; n += 2) await log.append('rides', `r_${n % 3}`, [ev(n, `r_${n % 3}`), ev(n + 1, `r_${n % 3}`)]);
      const batches: number[][] = [];
      subs.push(await log.subscribe('rides', { group: 'batched', consumer: 'b1', batchHandler: async (events) => void batches.push(events.map(nOf)) }));
      await waitFor(() => batches.flat().length >= 20, 'all twenty events', timeoutMs);
      await log.append('rides', 'r_1', [ev(21)]);
      await waitFor(() => batches.flat().includes(21), 'the event appended later', timeoutMs);
      await sentinels(log, ['r_0', 'r_1', 'r_2'], 22, [() => batches.flat()]);
      expect(batches.flat()).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
      // Batched, not one call per event.
      expect(batches.length).toBeLessThan(21);
    });

    it('redelivers only what a failed batch had not handled', async () => {
      const log = await fresh();
      // One append: one read (one record batch on Kafka) holds all six, so the failure is mid-batch.
      await log.append('rides', 'r_1', [1, 2, 3, 4, 5, 6].map((n) => ev(n)));
      const calls: number[][] = [];
      const handled: number[] = [];
      let failed = false;
      subs.push(
        await log.subscribe('rides', {
          group: 'batched-flaky',
          consumer: 'b1',
          batchHandler: async (events) => {
            calls.push(events.map(nOf));
            for (let i = 0; i < events.length; i++) {
              if (nOf(events[i]!) === 4 && !failed) {
                failed = true;
                throw batchFailure(i, new Error('transient'));
              }
              handled.push(nOf(events[i]!));
            }
          },
        }),
      );
      await waitFor(() => handled.includes(6), 'the rest after the failure', timeoutMs);
      await sentinels(log, ['r_1'], 7, [() => handled]);
      expect(handled).toEqual([1, 2, 3, 4, 5, 6, 7]);
      // Acked up to the failure, the failed event retried in place, then the rest as one batch.
      expect(calls).toEqual([[1, 2, 3, 4, 5, 6], [4], [5, 6], [7]]);
    });

    it('redelivers the whole batch when its handler fails without saying how far it got', async () => {
      const log = await fresh();
      await log.append('rides', 'r_1', [1, 2, 3, 4].map((n) => ev(n)));
      const calls: number[][] = [];
      let failed = false;
      subs.push(
        await log.subscribe('rides', {
          group: 'batched-plain',
          consumer: 'b1',
          batchHandler: async (events) => {
            calls.push(events.map(nOf));
            if (events.some((e) => nOf(e) === 3) && !failed) {
              failed = true;
              throw new Error('transient'); // not batchFailure: nothing of the batch counts as handled
            }
          },
        }),
      );
      await waitFor(() => calls.flat().filter((n) => n === 4).length === 2, 'the batch redelivered', timeoutMs);
      await sentinels(log, ['r_1'], 5, [() => calls.flat()]);
      expect(calls).toEqual([[1, 2, 3, 4], [1], [2, 3, 4], [5]]);
    });

    it('hands a crashed member’s unacknowledged events to another member', async () => {
      const log = await fresh();
      const seenByA: number[] = [];
      const seenByB: number[] = [];
      const crashed = await log.subscribe('rides', {
        group: 'workers',
        consumer: 'a',
        handler: async (e) => {
          seenByA.push(nOf(e));
          await new Promise(() => undefined); // never acknowledges: the process is about to die
        },
      });
      await log.append('rides', 'r_1', [ev(1)]);
      await waitFor(() => seenByA.length > 0, 'member a to receive the event', timeoutMs);
      await crashed.abort();
      subs.push(await log.subscribe('rides', { group: 'workers', consumer: 'b', handler: async (e) => void seenByB.push(nOf(e)) }));
      await waitFor(() => seenByB.includes(1), 'member b to take over the event', timeoutMs);
    });

    it('loses nothing and repeats nothing across a consumer restart', async () => {
      const log = await fresh();
      const first: Recorded[] = [];
      const sub = await collect(log, 'projector', 'p1', first);
      for (let n = 1; n <= 5; n++) await log.append('rides', 'r_1', [ev(n)]);
      await waitFor(() => first.length === 5, 'five events before the restart', timeoutMs);
      await sub.close();
      for (let n = 6; n <= 8; n++) await log.append('rides', 'r_1', [ev(n)]);
      const second: Recorded[] = [];
      await collect(log, 'projector', 'p1', second);
      await waitFor(() => second.length >= 3, 'the three events appended while down', timeoutMs);
      await sentinels(log, ['r_1'], 9, [() => second.map(nOf)]);
      expect(second.map(nOf)).toEqual([6, 7, 8, 9]);
    });

    it('starts a new group at the end when asked, skipping history', async () => {
      const log = await fresh();
      await log.append('rides', 'r_1', [ev(1)]);
      const seen: Recorded[] = [];
      // 'end' is the end as of subscribe(): what is appended once it has resolved is delivered.
      await collect(log, 'live', 'l1', seen, 'end');
      await log.append('rides', 'r_1', [ev(2)]);
      await waitFor(() => seen.length >= 1, 'the live event', timeoutMs);
      await sentinels(log, ['r_1'], 3, [() => seen.map(nOf)]);
      expect(seen.map(nOf)).toEqual([2, 3]);
    });

    it('answers ping while open', async () => {
      const log = await fresh();
      expect(await log.ping()).toBe(true);
    });
  });
}
