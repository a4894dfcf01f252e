import RBush from 'rbush';
import { describe, expect, it } from 'vitest';
import { makeKnn, type KnnNode } from '../projections/fleet/knn.ts';
import { createRandom } from '../src/simulator/random.ts';

interface P { minX: number; minY: number; maxX: number; maxY: number; id: number; ok: boolean }
const point = (id: number, x: number, y: number, ok = true): P => ({ minX: x, minY: y, maxX: x, maxY: y, id, ok });
const treeOf = (points: P[], nodeSize = 9, oneByOne = false) => {
  const tree = new RBush<P>(nodeSize);
  if (oneByOne) for (const p of points) tree.insert(p);
  else tree.load(points.slice());
  return tree.toJSON() as KnnNode<P>;
};

/** The answer by definition: every point, filter, distance within the radius, nearest k. */
function brute(points: P[], x: number, y: number, k: number, r: number, filter?: (p: P) => boolean) {
  return points
    .filter((p) => (!filter || filter(p)) && (p.minX - x) ** 2 + (p.minY - y) ** 2 <= r * r)
    .map((p) => ({ p, d: (p.minX - x) ** 2 + (p.minY - y) ** 2 }))
    .sort((a, b) => a.d - b.d)
    .slice(0, k);
}

describe('fleet kNN over the rbush tree', () => {
  it('finds the nearest k passing the filter within the radius, nearest first, as brute force does (bulk-loaded and one by one, node sizes 4–32)', () => {
    const rand = createRandom(42).next;
    for (const [nodeSize, oneByOne] of [[9, false], [9, true], [4, false], [16, true], [32, false]] as const) {
      const points = Array.from({ length: 3_000 }, (_, i) => point(i, rand(), rand() * 0.5, rand() < 0.8));
      // clustered too: many points in one small spot
      for (let i = 0; i < 300; i++) points.push(point(3_000 + i, 0.3 + rand() * 1e-3, 0.2 + rand() * 1e-3, rand() < 0.5));
      const root = treeOf(points, nodeSize, oneByOne);
      const knn = makeKnn<P>();
      for (let q = 0; q < 300; q++) {
        const x = q % 10 === 0 ? 0.3 : rand();
        const y = q % 10 === 0 ? 0.2 : rand() * 0.5;
        const k = 1 + (q % 25);
        const r = q % 3 === 0 ? 0.02 : q % 3 === 1 ? 0.1 : 2;
        const filter = q % 2 ? (p: P) => p.ok : undefined;
        const got = knn(root, x, y, k, r, filter, (p) => p);
        const want = brute(points, x, y, k, r, filter);
        expect(got.length).toBe(want.length);
        // same distances in the same order (a tie at the k-th place may be either point)
        got.forEach((p, i) => expect((p.minX - x) ** 2 + (p.minY - y) ** 2).toBe(want[i]!.d));
        const far = want.at(-1)?.d ?? 0;
        const sure = (list: { id: number; d?: number }[]) => list.filter((_, i) => (want[i]?.d ?? far) < far).map((p) => p.id).sort();
        expect(sure(got)).toEqual(sure(want.map((w) => w.p)));
      }
    }
  });

  it('keeps a point exactly on the radius, leaves out one just beyond, and asks the filter of nothing beyond', () => {
    const points = [point(1, 0.5, 0), point(2, 0.5000001, 0), point(3, 0.2, 0)];
    const asked: number[] = [];
    const got = makeKnn<P>()(treeOf(points), 0, 0, 10, 0.5, (p) => (asked.push(p.id), true), (p) => p.id);
    expect(got).toEqual([3, 1]);
    expect(asked.sort()).toEqual([1, 3]);
  });

  it('ties: equidistant points all come back when k allows, and k of them when it does not', () => {
    const points = [point(1, 1, 0), point(2, -1, 0), point(3, 0, 1), point(4, 0, -1), point(5, 2, 0)];
    const knn = makeKnn<P>();
    expect(knn(treeOf(points), 0, 0, 4, 5, undefined, (p) => p.id).sort()).toEqual([1, 2, 3, 4]);
    const two = knn(treeOf(points), 0, 0, 2, 5, undefined, (p) => p.id);
    expect(two).toHaveLength(2);
    expect(two.every((id) => id <= 4)).toBe(true);
  });

  it('finds nothing for k < 1, in an empty tree, or when the filter refuses everyone; a radius of 0 finds only the point itself', () => {
    const points = [point(1, 0, 0), point(2, 0.1, 0)];
    const knn = makeKnn<P>();
    expect(knn(treeOf(points), 0, 0, 0, 1, undefined, (p) => p.id)).toEqual([]);
    expect(knn(treeOf([]), 0, 0, 5, 1, undefined, (p) => p.id)).toEqual([]);
    expect(knn(treeOf(points), 0, 0, 5, 1, () => false, (p) => p.id)).toEqual([]);
    expect(knn(treeOf(points), 0, 0, 5, 0, undefined, (p) => p.id)).toEqual([1]);
  });
});
