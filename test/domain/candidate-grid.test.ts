import { describe, expect, it } from 'vitest';
import { METERS_PER_DEGREE } from '../../domain/geo.ts';
import { makeCandidateGrid } from '../../domain/matching/grid.ts';

/** A seeded generator, so a failure can be replayed. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32);
}

const DEG_M = METERS_PER_DEGREE;
const LAT0 = 38.7;
const xScale = Math.cos((LAT0 * Math.PI) / 180) * DEG_M;

describe('candidate grid: the k nearest within a radius, as a brute-force scan finds them', () => {
  it('matches brute force on 300 random queries over clustered and spread points', () => {
    const random = lcg(11);
    for (let round = 0; round < 6; round++) {
      const count = [0, 1, 7, 200, 1_500, 3_000][round]!;
      const spread = round % 2 ? 20_000 : 3_000; // metres
      const lats: number[] = [];
      const lngs: number[] = [];
      for (let i = 0; i < count; i++) {
        // Some duplicates, to check ties go to the lower index.
        const dup = i > 0 && random() < 0.05;
        lats.push(dup ? lats[i - 1]! : LAT0 + (random() * spread) / DEG_M);
        lngs.push(dup ? lngs[i - 1]! : -9.1 + (random() * spread) / xScale);
      }
      const grid = makeCandidateGrid(lats, lngs, count, 250 + random() * 1_000);
      for (let q = 0; q < 50; q++) {
        // Queries inside and well outside the points' box.
        const lat = LAT0 + ((random() * 1.4 - 0.2) * spread) / DEG_M;
        const lng = -9.1 + ((random() * 1.4 - 0.2) * spread) / xScale;
        const radius = 100 + random() * 5_000;
        const k = 1 + Math.floor(random() * 20);
        const banned = new Set(Array.from({ length: 5 }, () => Math.floor(random() * Math.max(1, count))));
        const accept = (i: number) => !banned.has(i);
        // The grid's plane: equirectangular at its first point's latitude.
        const gx = Math.cos(((lats[0] ?? LAT0) * Math.PI) / 180) * DEG_M;
        const expected = Array.from({ length: count }, (_, i) => {
          const dx = lngs[i]! * gx - lng * gx;
          const dy = lats[i]! * DEG_M - lat * DEG_M;
          return { i, d2: dx * dx + dy * dy };
        })
          .filter((p) => p.d2 <= radius * radius && accept(p.i))
          .sort((a, b) => a.d2 - b.d2 || a.i - b.i)
          .slice(0, k);
        const outIndex = new Int32Array(k);
        const outMeters = new Float64Array(k);
        const n = grid.nearest(lat, lng, radius, k, accept, outIndex, outMeters);
        expect([...outIndex.slice(0, n)]).toEqual(expected.map((p) => p.i));
        expected.forEach((p, j) => expect(outMeters[j]).toBeCloseTo(Math.sqrt(p.d2), 6));
      }
    }
  });
});
