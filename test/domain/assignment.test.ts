import { describe, expect, it } from 'vitest';
import { solveAssignment, type AssignmentEdge, type AssignmentProblem } from '../../domain/matching/assignment.ts';
import { createRandom, type Random } from '../../src/simulator/random.ts';
import { bruteForce, costOf } from '../support/assignment-oracle.ts';

function randomProblem(random: Random, rows: number, cols: number, density: number, integer: boolean): AssignmentProblem {
  const edges: AssignmentEdge[][] = [];
  for (let r = 0; r < rows; r++) {
    const list: AssignmentEdge[] = [];
    for (let c = 0; c < cols; c++)
      if (random.chance(density)) list.push({ col: c, cost: integer ? random.int(20) : random.between(0, 600) });
    edges.push(list);
  }
  return { cols, edges, unassignedCost: integer ? 25 : 700 };
}

/** The answer is a matching: each row's column is one of its edges, no column twice, cost adds up. */
function checkValid(problem: AssignmentProblem, colOf: Int32Array, totalCost: number) {
  expect(totalCost).toBeCloseTo(costOf(problem, colOf), 6);
}

describe('minimum-cost assignment (sparse, rectangular)', () => {
  it('matches brute force on 600 seeded random small instances (more rows, more columns, ties)', () => {
    const random = createRandom(20_261_202);
    for (let i = 0; i < 600; i++) {
      const rows = 1 + random.int(6);
      const cols = 1 + random.int(7);
      const problem = randomProblem(random, rows, cols, random.between(0.2, 1), i % 2 === 0);
      const { colOf, totalCost } = solveAssignment(problem);
      checkValid(problem, colOf, totalCost);
      expect({ i, cost: totalCost }).toEqual({ i, cost: expect.closeTo(bruteForce(problem), 6) });
    }
  });

  it('prefers the global optimum over greedy nearest-first', () => {
    // Greedy gives row 0 its cheapest (col 0, 1) and leaves row 1 with col 1 (100): 101.
    // The optimum swaps: row 0 → col 1 (2), row 1 → col 0 (3): 5.
    const problem = {
      cols: 2,
      edges: [
        [{ col: 0, cost: 1 }, { col: 1, cost: 2 }],
        [{ col: 0, cost: 3 }, { col: 1, cost: 100 }],
      ],
      unassignedCost: 1_000,
    };
    const { colOf, totalCost } = solveAssignment(problem);
    expect([...colOf]).toEqual([1, 0]);
    expect(totalCost).toBe(5);
  });

  it('leaves a row unassigned when no edge is left for it, and when it has none', () => {
    const { colOf, totalCost } = solveAssignment({
      cols: 1,
      edges: [[{ col: 0, cost: 5 }], [{ col: 0, cost: 7 }], []],
      unassignedCost: 100,
    });
    expect([...colOf]).toEqual([0, -1, -1]);
    expect(totalCost).toBe(205);
  });

  it('solves an empty window', () => {
    expect(solveAssignment({ cols: 3, edges: [], unassignedCost: 1 }).totalCost).toBe(0);
  });
});
