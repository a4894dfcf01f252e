// Shared screening state (src/app/partition/screening.ts): whichever instance a driver's request
// lands on, it is judged against the same neighbours as if one instance had seen every point.
import { describe, expect, it } from 'vitest';
import type { Event } from '../domain/ports/event-log.ts';
import type { ScreeningStore } from '../domain/ports/screening.ts';
import { observePoint, RECENT_POINTS_KEPT, recentOf, screenPoints, type DriverFix } from '../domain/tracking/clean.ts';
import type { GpsPoint } from '../domain/tracking/point.ts';
import { makeSharedScreening } from '../src/app/partition/screening.ts';

/** What a fix says: the driver's position and the window of neighbours (however the fix holds it). */
const seen = (fix: DriverFix | null | undefined) => fix && { latest: fix.latest, recent: recentOf(fix) };

/** The store's contract in memory (the Redis one keeps the same list and version per driver). */
type Window = { version: number; points: GpsPoint[]; full: boolean };

function memoryStore(kept = RECENT_POINTS_KEPT): ScreeningStore & { reads: { full: boolean; n: number }[]; readNow(driverId: string, since: number): Window; addNow(driverId: string, points: readonly GpsPoint[]): number } {
  const lists = new Map<string, { version: number; points: GpsPoint[] }>();
  const reads: { full: boolean; n: number }[] = [];
  const readNow = (driverId: string, since: number) => {
    const l = lists.get(driverId) ?? { version: 0, points: [] };
    const n = l.version - since;
    const full = since <= 0 || n < 0 || n > kept;
    const points = full ? [...l.points] : n === 0 ? [] : l.points.slice(-n);
    return { version: l.version, points, full };
  };
  const addNow = (driverId: string, points: readonly GpsPoint[]) => {
    const l = lists.get(driverId) ?? { version: 0, points: [] };
    l.points.push(...points);
    l.points.splice(0, Math.max(0, l.points.length - kept));
    l.version++;
    lists.set(driverId, l);
    return l.version;
  };
  return {
    reads,
    readNow,
    addNow,
    async read(driverId, since) {
      const r = readNow(driverId, since);
      reads.push({ full: r.full, n: r.points.length });
      return r;
    },
    async add(driverId, points) {
      return addNow(driverId, points);
    },
  };
}

/** The same store where the window lives beside the log: `appendIfAt` appends to `log` only at the expected version. */
function appendingStore(kept = RECENT_POINTS_KEPT) {
  const inner = memoryStore(kept);
  const log: Event[] = [];
  const calls = { appendIfAt: 0 };
  /** While set, each compare-and-append waits for it: lets a test have two requests screen before either writes. */
  let gate: Promise<void> | null = null;
  const store: ScreeningStore = {
    read: inner.read,
    add: inner.add,
    async appendIfAt(driverId, expected, points, events) {
      calls.appendIfAt++;
      if (gate) await gate;
      // From here on synchronous: atomic, as the Redis script is.
      const now = inner.readNow(driverId, expected);
      if (now.version !== expected) return { appended: false, ...now };
      if (points.length === 0) return { appended: true, version: expected };
      log.push(...events);
      return { appended: true, version: inner.addNow(driverId, points) };
    },
  };
  return { store, log, calls, reads: inner.reads, hold: (g: Promise<void> | null) => void (gate = g) };
}

const point = (i: number): GpsPoint => ({ lat: 52.5 + i * 0.0001, lng: 13.4, recordedAt: 1_000_000 + i * 1_000, heading: null, speed: null, accuracy: null });

describe('shared screening state', () => {
  it('requests alternating over three instances see the window one instance would have built, reading only what is new', async () => {
    const store = memoryStore();
    const instances = [0, 1, 2].map(() => makeSharedScreening(store));
    let alone: DriverFix | null = null;
    for (let i = 0; i < 300; i++) {
      const shared = instances[i % 3]!;
      const prior = await shared.prior('d1');
      expect(seen(prior.fix)).toEqual(seen(alone));
      const p = point(i);
      alone = observePoint(alone, p);
      await shared.accepted('d1', prior.version, [p], alone);
    }
    // After the first round, each instance reads the two points the others added, not the window.
    expect(store.reads.slice(3).every((r) => !r.full && r.n === 2)).toBe(true);
  });

  it('an instance with no copy rebuilds the whole window (late points sorted in, resent ones once)', async () => {
    const store = memoryStore();
    const writer = makeSharedScreening(store);
    let alone: DriverFix | null = null;
    for (const i of [3, 1, 2, 2, 5, 4]) {
      const prior = await writer.prior('d1');
      alone = observePoint(alone, point(i));
      await writer.accepted('d1', prior.version, [point(i)], alone);
    }
    const fresh = await makeSharedScreening(store).prior('d1');
    expect(seen(fresh.fix)).toEqual(seen(alone));
    expect(fresh.version).toBe(6);
  });

  it('where the store appends beside the window, a request of a driver whose copy is current is one call, no read', async () => {
    const s = appendingStore();
    const shared = makeSharedScreening(s.store);
    let alone: DriverFix | null = null;
    for (let i = 0; i < 50; i++) {
      const p = point(i);
      const plan = await shared.screenAndAppend('d1', (fix) => {
        expect(seen(fix)).toEqual(seen(alone));
        return { accepted: [p], latest: observePoint(fix, p), events: [{ type: 'LocationRecorded', data: { i } }] };
      }, async () => expect.unreachable('the store appends itself'));
      alone = plan.latest;
    }
    expect(s.calls.appendIfAt).toBe(50);
    expect(s.reads).toEqual([]);
    expect(s.log).toHaveLength(50);
  });

  it('requests alternating over three instances are screened against the window one instance would have built', async () => {
    const s = appendingStore();
    const instances = [0, 1, 2].map(() => makeSharedScreening(s.store));
    let alone: DriverFix | null = null;
    for (let i = 0; i < 60; i++) {
      const p = point(i);
      const judged: (DriverFix | null)[] = [];
      const plan = await instances[i % 3]!.screenAndAppend('d1', (fix) => {
        judged.push(fix);
        return { accepted: [p], latest: observePoint(fix, p), events: [{ type: 'LocationRecorded', data: { i } }] };
      }, async () => undefined);
      // Whatever was screened against a stale copy was not written; the last screening saw the real window.
      expect(seen(judged.at(-1) ?? null)).toEqual(seen(alone));
      alone = plan.latest;
    }
    expect(s.log.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });

  it('two instances racing for one driver: the one that loses re-screens against what the winner appended', async () => {
    const s = appendingStore();
    const [a, b] = [makeSharedScreening(s.store), makeSharedScreening(s.store)];
    const now = 1_000_000 + 100_000;
    const here = point(0);
    // The same device time, 11 km apart: whichever comes second conflicts with the first.
    const there: typeof here = { ...here, lat: here.lat + 0.1 };
    const screen = (p: typeof here) => (fix: DriverFix | null) => {
      const r = screenPoints(fix, [p], now);
      return { accepted: r.accepted, latest: r.latest, events: r.accepted.map(() => ({ type: 'LocationRecorded', data: p })), rejected: r.rejected };
    };
    let open!: () => void;
    s.hold(new Promise<void>((resolve) => (open = resolve)));
    const racing = Promise.all([a.screenAndAppend('d1', screen(here), async () => undefined), b.screenAndAppend('d1', screen(there), async () => undefined)]);
    // Both have screened against the same (empty) window before either writes.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(s.calls.appendIfAt).toBe(2);
    s.hold(null);
    open();
    const [pa, pb] = await racing;
    expect(pa.accepted.length + pb.accepted.length).toBe(1);
    expect(s.log).toHaveLength(1);
    expect(pb.rejected.map((r) => r.code)).toEqual(pa.accepted.length === 1 ? ['CONFLICTING_POINT'] : []);
  });
});
