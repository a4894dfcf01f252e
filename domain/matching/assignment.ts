/**
 * Minimum-cost assignment on a sparse bipartite graph: rows (waiting requests) to columns (free
 * drivers), each row to at most one column and each column to at most one row. A row may stay
 * unassigned at `unassignedCost`, so the problem is always feasible and rectangular shapes need no
 * padding; with `unassignedCost` above every edge cost, matching one more row always pays.
 *
 * Algorithm: successive shortest augmenting paths with column potentials (the Hungarian method in
 * the Jonker–Volgenant shortest-path form, as in LAPJVsp). Each free row runs a Dijkstra over the
 * columns its alternating paths reach, stopping at the first free column it pops, so a window whose
 * requests mostly want different drivers costs little more than one look at each row's edges. Every
 * row has a private "stay unassigned" column, which bounds each search. Exact: the result is optimal
 * for the given edges (see test/domain/assignment.test.ts, checked against brute force).
 */

export interface AssignmentEdge {
  readonly col: number;
  readonly cost: number;
}

export interface AssignmentProblem {
  readonly cols: number;
  /** `edges[row]`: the columns that row may take, with their costs. Absent edges are forbidden. */
  readonly edges: readonly (readonly AssignmentEdge[])[];
  /** What leaving a row unassigned costs; above every edge cost to match as many rows as possible. */
  readonly unassignedCost: number;
}

/**
 * The same problem in compressed sparse rows, the form the solver works on: row r's edges are
 * `edgeCol[rowStart[r] .. rowStart[r + 1])` with costs `edgeCost[…]`. No object per edge, so a
 * window of tens of thousands of pairs costs the garbage collector nothing.
 */
export interface SparseAssignmentProblem {
  readonly cols: number;
  /** Length rows + 1. */
  readonly rowStart: Int32Array;
  readonly edgeCol: Int32Array;
  readonly edgeCost: Float64Array;
  readonly unassignedCost: number;
}

export interface Assignment {
  /** Column per row, or -1 when the row stays unassigned. */
  readonly colOf: Int32Array;
  /** Sum of the chosen edges' costs plus `unassignedCost` per unassigned row. */
  readonly totalCost: number;
}

/** A binary min-heap of (key, column) with lazy deletion: a stale entry is skipped when popped. */
function makeHeap(capacity: number) {
  let keys = new Float64Array(capacity);
  let vals = new Int32Array(capacity);
  let size = 0;
  return {
    get size() {
      return size;
    },
    clear() {
      size = 0;
    },
    push(key: number, val: number) {
      if (size === keys.length) {
        const k = new Float64Array(size * 2);
        const v = new Int32Array(size * 2);
        k.set(keys);
        v.set(vals);
        keys = k;
        vals = v;
      }
      let i = size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (keys[p]! <= key) break;
        keys[i] = keys[p]!;
        vals[i] = vals[p]!;
        i = p;
      }
      keys[i] = key;
      vals[i] = val;
    },
    /** Removes the minimum; returns its column (its key is read first with `topKey`). */
    pop(): number {
      const top = vals[0]!;
      const key = keys[--size]!;
      const val = vals[size]!;
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= size) break;
        if (c + 1 < size && keys[c + 1]! < keys[c]!) c++;
        if (keys[c]! >= key) break;
        keys[i] = keys[c]!;
        vals[i] = vals[c]!;
        i = c;
      }
      keys[i] = key;
      vals[i] = val;
      return top;
    },
    topKey: () => keys[0]!,
  };
}

export function solveAssignment({ cols, edges, unassignedCost }: AssignmentProblem): Assignment {
  const rowStart = new Int32Array(edges.length + 1);
  for (let r = 0; r < edges.length; r++) rowStart[r + 1] = rowStart[r]! + edges[r]!.length;
  const edgeCol = new Int32Array(rowStart[edges.length]!);
  const edgeCost = new Float64Array(edgeCol.length);
  let k = 0;
  for (const list of edges) for (const e of list) (edgeCol[k] = e.col), (edgeCost[k++] = e.cost);
  return solveSparseAssignment({ cols, rowStart, edgeCol, edgeCost, unassignedCost });
}

export function solveSparseAssignment({ cols, rowStart, edgeCol, edgeCost, unassignedCost }: SparseAssignmentProblem): Assignment {
  const rows = rowStart.length - 1;
  // Columns 0..cols-1 are real; cols + r is row r's private "unassigned" column.
  const total = cols + rows;
  const v = new Float64Array(total); // column potentials (dual variables)
  const rowOfCol = new Int32Array(total).fill(-1);
  const colOf = new Int32Array(rows).fill(-1);
  const dist = new Float64Array(total).fill(Infinity);
  const pred = new Int32Array(total); // row through which a column was reached
  const predCost = new Float64Array(total); // cost of that edge
  const scanned = new Uint8Array(total);
  const touched: number[] = [];
  const scannedList: number[] = [];
  const heap = makeHeap(64);

  const matchedCost = new Float64Array(rows); // cost of each row's current edge
  /** Relaxes every edge of `row`, whose path so far costs `base` (already net of the row's dual). */
  const relax = (row: number, base: number) => {
    for (let k = rowStart[row]!, end = rowStart[row + 1]!; k < end; k++) {
      const col = edgeCol[k]!;
      if (scanned[col]) continue;
      const cost = edgeCost[k]!;
      const d = base + cost - v[col]!;
      if (d < dist[col]!) {
        if (dist[col] === Infinity) touched.push(col);
        dist[col] = d;
        pred[col] = row;
        predCost[col] = cost;
        heap.push(d, col);
      }
    }
    const own = cols + row;
    if (!scanned[own]) {
      const d = base + unassignedCost - v[own]!;
      if (d < dist[own]!) {
        if (dist[own] === Infinity) touched.push(own);
        dist[own] = d;
        pred[own] = row;
        predCost[own] = unassignedCost;
        heap.push(d, own);
      }
    }
  };

  for (let r = 0; r < rows; r++) {
    heap.clear();
    relax(r, 0);
    let sink = -1;
    let sinkDist = 0;
    while (heap.size > 0) {
      const d = heap.topKey();
      const col = heap.pop();
      if (scanned[col] || d > dist[col]!) continue; // stale heap entry
      scanned[col] = 1;
      scannedList.push(col);
      const owner = rowOfCol[col]!;
      if (owner === -1) {
        sink = col;
        sinkDist = d;
        break;
      }
      // Through the owner's matched (tight) edge: the owner's dual is cost(owner, col) - v[col].
      relax(owner, d - (matchedCost[owner]! - v[col]!));
    }
    // Always reached: the row's own "unassigned" column is free until the row takes it.
    // Dual update keeps every reduced cost non-negative and matched edges tight.
    for (const col of scannedList) v[col] = v[col]! + dist[col]! - sinkDist;
    // Augment along the predecessors back to row r.
    let col = sink;
    for (;;) {
      const row = pred[col]!;
      const previous = colOf[row]!;
      colOf[row] = col;
      matchedCost[row] = predCost[col]!;
      rowOfCol[col] = row;
      if (row === r) break;
      col = previous;
    }
    for (const c of touched) (dist[c] = Infinity), (scanned[c] = 0);
    touched.length = 0;
    scannedList.length = 0;
  }

  let totalCost = 0;
  for (let r = 0; r < rows; r++) {
    const c = colOf[r]!;
    if (c >= cols) {
      colOf[r] = -1;
      totalCost += unassignedCost;
    } else totalCost += matchedCost[r]!;
  }
  return { colOf, totalCost };
}
