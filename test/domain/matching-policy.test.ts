import { describe, expect, it } from 'vitest';
import { defaultFairnessRules } from '../../domain/matching/dispatch.ts';
import { defaultMatchPolicy, rankCandidates, type Candidate, type MatchPolicy } from '../../domain/matching/policy.ts';

const NOW = 1_800_000_000_000;
const pickup = { lat: 38.7223, lng: -9.1393 };
const M_PER_DEG_LAT = 111_195;
/** A candidate `meters` due north of the pickup (or east with `east`), with a fix `ageMs` old. */
const at = (driverId: string, meters: number, { ageMs = 0, free = true, east = false } = {}): Candidate => ({
  driverId,
  lat: east ? pickup.lat : pickup.lat + meters / M_PER_DEG_LAT,
  lng: east ? pickup.lng + meters / (M_PER_DEG_LAT * Math.cos((pickup.lat * Math.PI) / 180)) : pickup.lng,
  fixAt: NOW - ageMs,
  free,
});

const policy = (over: Partial<MatchPolicy> = {}): MatchPolicy => ({ ...defaultMatchPolicy, ...over });

interface Case {
  name: string;
  candidates: Candidate[];
  passedBy?: string[];
  policy?: Partial<MatchPolicy>;
  /** Expected driver ids, best first. */
  expected: string[];
}

const cases: Case[] = [
  { name: 'nobody around', candidates: [], expected: [] },
  { name: 'nearest first', candidates: [at('c', 900), at('a', 200), at('b', 500)], expected: ['a', 'b', 'c'] },
  {
    name: 'the smallest ring with anyone in it wins, even over more drivers further out',
    candidates: [at('far1', 1_500), at('near', 990), at('far2', 2_000), at('far3', 2_500)],
    expected: ['near'],
  },
  { name: 'an empty first ring falls through to the next', candidates: [at('b', 2_500), at('a', 1_200)], expected: ['a', 'b'] },
  { name: 'then the widest ring', candidates: [at('x', 7_900), at('y', 4_000)], expected: ['y', 'x'] },
  { name: 'nobody inside the widest ring', candidates: [at('x', 8_100), at('y', 20_000)], expected: [] },
  { name: 'a ring edge is inside', candidates: [at('edge', 1_000), at('out', 1_001)], expected: ['edge'] },
  { name: 'rings in any direction', candidates: [at('east', 600, { east: true }), at('north', 700)], expected: ['east', 'north'] },
  {
    name: 'a stale fix is skipped (older than freshnessMs), one just fresh enough is not',
    candidates: [at('stale', 100, { ageMs: 60_001 }), at('edge', 300, { ageMs: 60_000 }), at('fresh', 400, { ageMs: 5_000 })],
    expected: ['edge', 'fresh'],
  },
  {
    name: 'freshness follows the policy',
    candidates: [at('a', 100, { ageMs: 20_000 }), at('b', 300, { ageMs: 5_000 })],
    policy: { freshnessMs: 10_000 },
    expected: ['b'],
  },
  {
    name: 'a skipped stale driver does not hold a ring: the next ring is used',
    candidates: [at('stale', 200, { ageMs: 120_000 }), at('far', 2_000)],
    expected: ['far'],
  },
  {
    name: 'drivers who passed on this ride are skipped',
    candidates: [at('declined', 100), at('expired', 200), at('next', 300)],
    passedBy: ['declined', 'expired'],
    expected: ['next'],
  },
  { name: 'everybody passed', candidates: [at('a', 100), at('b', 200)], passedBy: ['b', 'a'], expected: [] },
  {
    name: 'busy drivers (not free) are skipped',
    candidates: [at('busy', 50, { free: false }), at('free', 600)],
    expected: ['free'],
  },
  {
    name: 'ties (same rounded distance) go by driver id, whatever the input order',
    candidates: [at('d3', 400), at('d1', 400, { east: true }), at('d2', 400.2)],
    expected: ['d1', 'd2', 'd3'],
  },
  {
    name: 'at most `limit`, the nearest kept',
    candidates: ['f', 'e', 'd', 'c', 'b', 'a'].map((id, i) => at(id, 900 - i * 100)),
    policy: { limit: 3 },
    expected: ['a', 'b', 'c'],
  },
  {
    name: 'the limit applies within the chosen ring',
    candidates: [at('a', 100), at('b', 200), at('c', 300), at('far', 2_000)],
    policy: { limit: 2 },
    expected: ['a', 'b'],
  },
  {
    name: 'custom rings',
    candidates: [at('a', 400), at('b', 600), at('c', 1_500)],
    policy: { radiiMeters: [500, 2_000] },
    expected: ['a'],
  },
  { name: 'no rings, nobody', candidates: [at('a', 10)], policy: { radiiMeters: [] }, expected: [] },
];

describe('rankCandidates', () => {
  it.each(cases)('$name', ({ candidates, passedBy = [], policy: over, expected }) => {
    const ranked = rankCandidates(pickup, candidates, { now: NOW, passedBy, policy: policy(over) });
    expect(ranked.map((r) => r.driverId)).toEqual(expected);
  });

  it('reports whole metres, ascending', () => {
    const ranked = rankCandidates(pickup, [at('b', 750.4), at('a', 250.6)], { now: NOW, passedBy: [], policy: policy() });
    expect(ranked).toEqual([
      { driverId: 'a', distanceMeters: 251 },
      { driverId: 'b', distanceMeters: 750 },
    ]);
  });

  it('with fairness: an equally near driver idle longer goes first, whatever the ids', () => {
    const idle = (id: string, minutes: number) => ({ ...at(id, 400), idleSince: NOW - minutes * 60_000 });
    const ranked = rankCandidates(pickup, [idle('a', 1), idle('b', 30), idle('c', 5)], { now: NOW, passedBy: [], policy: policy(), fairness: defaultFairnessRules });
    expect(ranked.map((r) => r.driverId)).toEqual(['b', 'c', 'a']);
  });

  it('with fairness: a driver who missed offers lately is ranked after a slightly further one, and forgiven later', () => {
    const missed = { ...at('missed', 300), missedOffersAt: [NOW - 60_000, NOW - 30_000] };
    const candidates = [missed, at('other', 500)];
    const now = (t: number) => rankCandidates(pickup, candidates, { now: t, passedBy: [], policy: policy({ freshnessMs: Infinity }), fairness: defaultFairnessRules });
    expect(now(NOW).map((r) => r.driverId)).toEqual(['other', 'missed']);
    expect(now(NOW + defaultFairnessRules.missedOfferMemoryMs).map((r) => r.driverId)).toEqual(['missed', 'other']);
  });

  it('does not change its input', () => {
    const candidates = Object.freeze([at('b', 500), at('a', 100)]);
    const before = JSON.stringify(candidates);
    rankCandidates(pickup, candidates, { now: NOW, passedBy: Object.freeze(['x']), policy: policy() });
    expect(JSON.stringify(candidates)).toBe(before);
  });
});
