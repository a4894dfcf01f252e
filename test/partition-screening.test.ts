// Shared screening state (src/app/partition/screening.ts): whichever instance a driver's request
// lands on, it is judged against the same neighbours as if one instance had seen every point.
import { describe, expect, it } from 'vitest';
import type { ScreeningStore } from '../domain/ports/screening.ts';
import { observePoint, RECENT_POINTS_KEPT, type DriverFix } from '../domain/tracking/clean.ts';
import type { GpsPoint } from '../domain/tracking/point.ts';
import { makeSharedScreening } from '../src/app/partition/screening.ts';

/** The store's contract in memory (the Redis one keeps the same list and version per driver). */
function memoryStore(kept = RECENT_POINTS_KEPT): ScreeningStore & { reads: { full: boolean; n: number }[] } {
  const lists = new Map<string, { version: number; points: GpsPoint[] }>();
  const reads: { full: boolean; n: number }[] = [];
  return {
    reads,
    async read(driverId, since) {
      const l = lists.get(driverId) ?? { version: 0, points: [] };
      const n = l.version - since;
      const full = since <= 0 || n < 0 || n > kept;
      const points = full ? [...l.points] : n === 0 ? [] : l.points.slice(-n);
      reads.push({ full, n: points.length });
      return { version: l.version, points, full };
    },
    async add(driverId, points) {
      const l = lists.get(driverId) ?? { version: 0, points: [] };
      l.points.push(...points);
      l.points.splice(0, Math.max(0, l.points.length - kept));
      l.version++;
      lists.set(driverId, l);
      return l.version;
    },
  };
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
      expect(prior.fix).toEqual(alone);
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
    expect(fresh.fix).toEqual(alone);
    expect(fresh.version).toBe(6);
  });
});
