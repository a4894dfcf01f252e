import { describe, expect, it } from 'vitest';
import { solveAssignment, solveSparseAssignment, type AssignmentEdge, type AssignmentProblem } from '../../domain/matching/assignment.ts';
import { createRandom } from '../../src/simulator/random.ts';
import { bruteForce, costOf } from '../support/assignment-oracle.ts';

// Windows wider than the small brute-force instances of assignment.test.ts: a request that can reach
// a hundred drivers (the solver's search queue grows past its first allocation), and the compressed
// form the dispatcher hands the solver.

describe('assignment over wide windows', () => {
  it('one request that reaches 150 drivers takes the cheapest', () => {
    const { next: random } = createRandom(7);
    const edges: AssignmentEdge[] = Array.from({ length: 150 }, (_, col) => ({ col, cost: 10 + random() * 500 }));
    const cheapest = edges.reduce((a, b) => (b.cost < a.cost ? b : a));
    const { colOf, totalCost } = solveAssignment({ cols: 150, edges: [edges], unassignedCost: 1_000 });
    expect([...colOf]).toStrictEqual([cheapest.col]);
    expect(totalCost).toBe(cheapest.cost);
  });

  it('three requests over 120 shared drivers: the optimum, as brute force finds it', () => {
    const { next: random } = createRandom(2026);
    for (let round = 0; round < 8; round++) {
      const cols = 120;
      const edges: AssignmentEdge[][] = Array.from({ length: 3 }, () =>
        Array.from({ length: cols }, (_, col) => ({ col, cost: Math.floor(random() * 400) })).filter(() => random() < 0.9),
      );
      const problem = { cols, edges, unassignedCost: 450 };
      const { colOf, totalCost } = solveAssignment(problem);
      const best = bruteForce(problem);
      expect({ round, cost: costOf(problem, colOf) }).toStrictEqual({ round, cost: best });
      expect(totalCost).toBe(best);
    }
  });

  it('the compressed form gives the same assignment as the edge lists', () => {
    const problem: AssignmentProblem = {
      cols: 3,
      edges: [[{ col: 0, cost: 4 }, { col: 2, cost: 9 }], [{ col: 0, cost: 3 }], [], [{ col: 1, cost: 1 }, { col: 2, cost: 2 }]],
      unassignedCost: 50,
    };
    const sparse = solveSparseAssignment({
      cols: 3,
      rowStart: Int32Array.from([0, 2, 3, 3, 5]),
      edgeCol: Int32Array.from([0, 2, 0, 1, 2]),
      edgeCost: Float64Array.from([4, 9, 3, 1, 2]),
      unassignedCost: 50,
    });
    const lists = solveAssignment(problem);
    // Row 1 has only column 0, so row 0 takes 2 (9 + 3 < 4 + unassigned); row 3 takes its cheapest, 1.
    expect([...sparse.colOf]).toStrictEqual([2, 0, -1, 1]);
    expect(sparse.totalCost).toBe(9 + 3 + 50 + 1);
    expect([...lists.colOf]).toStrictEqual([...sparse.colOf]);
    expect(lists.totalCost).toBe(sparse.totalCost);
  });

  it('each new request wants the driver an earlier one holds: the optimum shifts every earlier request along', () => {
    // Cost r × c: each later row wants column 0 more, so every row's search displaces earlier ones.
    // By the rearrangement inequality the one optimum pairs row r with column n − 1 − r.
    const n = 40;
    const edges = Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, col) => ({ col, cost: r * col })));
    const { colOf, totalCost } = solveAssignment({ cols: n, edges, unassignedCost: n * n * 10 });
    expect([...colOf]).toStrictEqual(Array.from({ length: n }, (_, r) => n - 1 - r));
    expect(totalCost).toBe(Array.from({ length: n }, (_, r) => r * (n - 1 - r)).reduce((a, b) => a + b, 0));
  });
});
