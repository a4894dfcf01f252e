// The oracle the solver's tests compare against (test/domain/assignment*.test.ts).
import { expect } from 'vitest';
import type { AssignmentProblem } from '../../domain/matching/assignment.ts';

/** Every way to give each row one of its edges or nothing, drivers distinct: the true optimum. */
export function bruteForce({ edges, unassignedCost }: AssignmentProblem): number {
  let best = Infinity;
  const used = new Set<number>();
  const walk = (row: number, cost: number) => {
    if (cost >= best) return;
    if (row === edges.length) {
      best = cost;
      return;
    }
    walk(row + 1, cost + unassignedCost);
    for (const e of edges[row]!) {
      if (used.has(e.col)) continue;
      used.add(e.col);
      walk(row + 1, cost + e.cost);
      used.delete(e.col);
    }
  };
  walk(0, 0);
  return best;
}

/** The cost of an answer, checked to be a matching of the given edges: no column twice, each one an edge of its row. */
export function costOf(problem: AssignmentProblem, colOf: Int32Array): number {
  const seen = new Set<number>();
  let sum = 0;
  colOf.forEach((c, r) => {
    if (c === -1) return void (sum += problem.unassignedCost);
    expect(seen.has(c), `column ${c} given twice`).toBe(false);
    seen.add(c);
    const edge = problem.edges[r]!.find((e) => e.col === c);
    expect(edge, `row ${r} given column ${c} it has no edge to`).toBeDefined();
    sum += edge!.cost;
  });
  return sum;
}
