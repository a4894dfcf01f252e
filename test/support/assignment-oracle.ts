import type { AssignmentProblem } from '../../domain/matching/assignment.ts';

// The oracle the solver's tests compare against (test/domain/assignment*.test.ts).
export /** Every way to give each row one of its edges or nothing, drivers distinct: the true optimum. */
function bruteForce({ edges, unassignedCost }: AssignmentProblem): number {
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
