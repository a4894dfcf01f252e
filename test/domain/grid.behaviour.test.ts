import { describe, expect, it } from 'vitest';
import { METERS_PER_DEGREE } from '../../domain/geo.ts';
import { makeCandidateGrid } from '../../domain/matching/grid.ts';

/** The candidate grid at its edges: nothing asked, nobody accepted, a point exactly on the radius. */
const lats = [38.7, 38.7 + 300 / METERS_PER_DEGREE, 38.7, 38.7 + 900 / METERS_PER_DEGREE];
const lngs = [-9.1, -9.1, -9.1, -9.1];

function search(grid: ReturnType<typeof makeCandidateGrid>, radius: number, k: number, accept: (i: number) => boolean = () => true) {
  const outIndex = new Int32Array(Math.max(k, 1));
  const outMeters = new Float64Array(Math.max(k, 1));
  const n = grid.nearest(38.7, -9.1, radius, k, accept, outIndex, outMeters);
  return { found: [...outIndex.slice(0, n)], meters: [...outMeters.slice(0, n)].map((m) => Math.round(m)) };
}

describe('candidate grid edges', () => {
  it('an empty grid finds nothing, and says it holds nothing', () => {
    const grid = makeCandidateGrid([], [], 0, 250);
    expect(grid.size).toBe(0);
    expect(search(grid, 5_000, 3).found).toStrictEqual([]);
  });

  it('asking for no candidates looks at none (the accept filter is never asked)', () => {
    const asked: number[] = [];
    const grid = makeCandidateGrid(lats, lngs, 4, 250);
    expect(grid.size).toBe(4);
    expect(search(grid, 5_000, 0, (i) => (asked.push(i), true)).found).toStrictEqual([]);
    expect(asked).toStrictEqual([]);
  });

  it('nearest first, ties to the lower index, within the radius, only those accepted', () => {
    const grid = makeCandidateGrid(lats, lngs, 4, 250);
    expect(search(grid, 5_000, 4)).toStrictEqual({ found: [0, 2, 1, 3], meters: [0, 0, 300, 900] });
    expect(search(grid, 500, 4).found).toStrictEqual([0, 2, 1]);
    expect(search(grid, 5_000, 2).found).toStrictEqual([0, 2]);
    expect(search(grid, 5_000, 2, (i) => i !== 0).found).toStrictEqual([2, 1]);
    expect(search(grid, 5_000, 4, () => false).found).toStrictEqual([]);
  });

  it('a point exactly on the radius is in (a driver standing on the pickup is found with radius 0)', () => {
    const grid = makeCandidateGrid(lats, lngs, 4, 250);
    expect(search(grid, 0, 4).found).toStrictEqual([0, 2]);
  });
});
