/**
 * A uniform grid over one window's candidate drivers, for the window's thousand ring searches at
 * once. Built once per window in O(drivers) by a counting sort into typed arrays (no object per
 * driver or per cell); a search visits only the cells its ring overlaps and keeps the k nearest with
 * a bounded insertion sort. Points live on a local plane in metres (equirectangular around the
 * first point's latitude: metric to well under 1% across a city).
 *
 * Why not one rbush kNN per request: each kNN allocates a queue entry per node and item it looks
 * at, and a window of 1,000 requests spent most of its time there and in the garbage collector
 * (see README, Dispatch). The fleet's rbush index still prunes the fleet to the window's area.
 */

import { METERS_PER_DEGREE as DEG_M } from '../geo.ts';

const RAD = Math.PI / 180;

export interface CandidateGrid {
  /** How many points the grid holds. */
  readonly size: number;
  /**
   * The (at most) `k` points nearest to (lat, lng) within `radiusMeters` that `accept` lets through,
   * nearest first, written to `outIndex` (point indices) and `outMeters`; returns how many.
   */
  nearest(lat: number, lng: number, radiusMeters: number, k: number, accept: (index: number) => boolean, outIndex: Int32Array, outMeters: Float64Array): number;
}

export function makeCandidateGrid(lats: ArrayLike<number>, lngs: ArrayLike<number>, count: number, cellMeters: number): CandidateGrid {
  const lat0 = count > 0 ? lats[0]! : 0;
  const xScale = Math.cos(lat0 * RAD) * DEG_M;
  const xs = new Float64Array(count);
  const ys = new Float64Array(count);
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < count; i++) {
    const x = lngs[i]! * xScale;
    const y = lats[i]! * DEG_M;
    xs[i] = x;
    ys[i] = y;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  // At most ~4 cells per point however wide the area, so a spread-out fleet cannot blow up memory.
  const area = Math.max(1, (maxX - minX) * (maxY - minY));
  const cell = Math.max(cellMeters, Math.sqrt(area / Math.max(1, 4 * count)));
  const cols = count > 0 ? Math.floor((maxX - minX) / cell) + 1 : 0;
  const rows = count > 0 ? Math.floor((maxY - minY) / cell) + 1 : 0;
  const cellStart = new Int32Array(cols * rows + 1);
  const cellOf = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = Math.floor((ys[i]! - minY) / cell) * cols + Math.floor((xs[i]! - minX) / cell);
    cellOf[i] = c;
    cellStart[c + 1]!++;
  }
  for (let c = 0; c < cols * rows; c++) cellStart[c + 1]! += cellStart[c]!;
  const order = new Int32Array(count);
  const fill = cellStart.slice(0, cols * rows);
  for (let i = 0; i < count; i++) order[fill[cellOf[i]!]!++] = i;

  return {
    size: count,
    nearest(lat, lng, radiusMeters, k, accept, outIndex, outMeters) {
      if (count === 0 || k <= 0) return 0;
      const x = lng * xScale;
      const y = lat * DEG_M;
      const r2 = radiusMeters * radiusMeters;
      const qx = Math.floor((x - minX) / cell);
      const qy = Math.floor((y - minY) / cell);
      let size = 0;
      let worst = Infinity; // squared distance of the k-th kept, once k are kept
      const scan = (c: number) => {
        for (let j = cellStart[c]!, stop = cellStart[c + 1]!; j < stop; j++) {
          const i = order[j]!;
          const dx = xs[i]! - x;
          const dy = ys[i]! - y;
          const d2 = dx * dx + dy * dy;
          if (d2 > r2 || (size === k && (d2 > worst || (d2 === worst && i > outIndex[k - 1]!))) || !accept(i)) continue;
          let at = size < k ? size++ : k - 1;
          while (at > 0 && (outMeters[at - 1]! > d2 || (outMeters[at - 1] === d2 && outIndex[at - 1]! > i))) {
            outMeters[at] = outMeters[at - 1]!;
            outIndex[at] = outIndex[at - 1]!;
            at--;
          }
          outMeters[at] = d2;
          outIndex[at] = i;
          if (size === k) worst = outMeters[k - 1]!;
        }
      };
      // Square rings of cells around the query's cell, nearest first: once k are kept and the next
      // ring lies further than the k-th, or beyond the radius, nothing further can enter.
      const maxRing = Math.max(qx, cols - 1 - qx, qy, rows - 1 - qy);
      for (let ring = 0; ring <= maxRing; ring++) {
        // Nearest any point outside the (2·ring − 1)-cell block around the query's cell can be.
        const gap = ring === 0 ? 0 : Math.min(x - (minX + (qx - ring + 1) * cell), minX + (qx + ring) * cell - x, y - (minY + (qy - ring + 1) * cell), minY + (qy + ring) * cell - y);
        if (gap > radiusMeters || (size === k && gap * gap > worst)) break;
        const y0 = qy - ring;
        const y1 = qy + ring;
        for (let cy = Math.max(0, y0); cy <= Math.min(rows - 1, y1); cy++) {
          const edge = cy === y0 || cy === y1;
          const x0 = qx - ring;
          const x1 = qx + ring;
          if (edge) {
            for (let cx = Math.max(0, x0); cx <= Math.min(cols - 1, x1); cx++) scan(cy * cols + cx);
          } else {
            if (x0 >= 0) scan(cy * cols + x0);
            if (x1 < cols && x1 !== x0) scan(cy * cols + x1);
          }
        }
      }
      for (let j = 0; j < size; j++) outMeters[j] = Math.sqrt(outMeters[j]!);
      return size;
    },
  };
}
