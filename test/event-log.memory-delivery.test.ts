// How the embedded log hands events over (issue 15, session 6): an event is built once per append
// and handed to every group, so this pins what each group must still see whatever the log reuses:
// the event as append returned it, per-key order within a group, what retention trimmed before its
// turn skipped, and a failure in one group redelivering from the failed event in that group alone.
import { describe, expect, it } from 'vitest';
import { batchFailure, type Recorded } from '../domain/ports/event-log.ts';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { opaque } from './support/opaque-log.ts';
import { waitFor } from './support/wait.ts';

const point = (i: number) => ({ type: 'Numbered', data: { i } });
const iOf = (e: Recorded) => (e.data as { i: number }).i;
const plain = (e: Recorded) => JSON.parse(JSON.stringify(e)) as unknown;

describe('the embedded log hands each group every event', () => {
  it('as append returned it, in per-key order, to three groups (one failing once mid-batch, one with two members)', async () => {
    const log = opaque(getInMemoryEventLog({ retryDelayMs: 1 }));
    const seen = { a: [] as Recorded[], b: [] as Recorded[], c1: [] as Recorded[], c2: [] as Recorded[] };
    let failOnce = true;
    await log.subscribe('driver-locations', { group: 'a', consumer: 'x', from: 'start', batchHandler: async (events) => void seen.a.push(...events) });
    await log.subscribe('driver-locations', {
      group: 'b', consumer: 'x', from: 'start',
      batchHandler: async (events) => {
        for (let i = 0; i < events.length; i++) {
          if (failOnce && iOf(events[i]!) === 7) {
            failOnce = false;
            throw batchFailure(i, new Error('once'));
          }
          seen.b.push(events[i]!);
        }
      },
    });
    await log.subscribe('driver-locations', { group: 'c', consumer: 'c1', from: 'start', batchHandler: async (events) => void seen.c1.push(...events) });
    await log.subscribe('driver-locations', { group: 'c', consumer: 'c2', from: 'start', batchHandler: async (events) => void seen.c2.push(...events) });
    const appended: Recorded[] = [];
    const writes: Promise<Recorded[]>[] = [];
    for (let i = 0; i < 40; i += 4) writes.push(log.append('driver-locations', `k${(i / 4) % 3}`, [point(i), point(i + 1), point(i + 2), point(i + 3)]));
    for (const w of await Promise.all(writes)) appended.push(...w);
    await waitFor(() => seen.a.length === 40 && seen.b.length === 40 && seen.c1.length + seen.c2.length === 40, 'every group has every event');
    const byPosition = (list: Recorded[]) => [...list].sort((x, y) => Number(x.metadata.position) - Number(y.metadata.position)).map(plain);
    expect(seen.a.map(plain)).toEqual(appended.map(plain));
    expect(seen.b.map(plain)).toEqual(appended.map(plain));
    expect(byPosition([...seen.c1, ...seen.c2])).toEqual(appended.map(plain));
    // One member of `c` has each key, in order.
    for (const list of [seen.c1, seen.c2]) {
      const keys = new Set(list.map((e) => e.metadata.key));
      for (const k of keys) {
        const mine = list.filter((e) => e.metadata.key === k).map(iOf);
        expect(mine).toEqual([...mine].sort((x, y) => x - y));
        expect(mine).toEqual(appended.filter((e) => e.metadata.key === k).map(iOf));
      }
    }
    await log.close();
  });

  it('skips what retention trimmed before a slow group reached it, and the rest keeps its positions', async () => {
    const log = opaque(getInMemoryEventLog({ maxLength: { 'driver-locations': 10 } }));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: Recorded[] = [];
    const fast: Recorded[] = [];
    await log.subscribe('driver-locations', { group: 'fast', consumer: 'x', from: 'start', batchHandler: async (events) => void fast.push(...events) });
    await log.subscribe('driver-locations', {
      group: 'slow', consumer: 'x', from: 'start',
      batchHandler: async (events) => {
        await gate;
        slow.push(...events);
      },
    });
    await log.append('driver-locations', 'k', [point(0)]); // the slow group holds this one
    for (let i = 1; i < 30; i++) await log.append('driver-locations', 'k', [point(i)]);
    release();
    await waitFor(() => fast.length === 30 && slow.length > 0 && iOf(slow.at(-1)!) === 29, 'both groups caught up');
    expect(fast.map(iOf)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // The first was handed over before the trim; of the rest only the retained ten are left.
    expect(slow.map(iOf)).toEqual([0, ...Array.from({ length: 10 }, (_, i) => 20 + i)]);
    expect(slow.map((e) => e.metadata.position)).toEqual(['1', ...Array.from({ length: 10 }, (_, i) => String(21 + i))]);
    await log.close();
  });
});
