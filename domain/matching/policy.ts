import { distanceMeters, type LatLng } from '../geo.ts';

/** A driver as matching sees one: where they were last seen and whether they can take an offer. */
export interface Candidate {
  readonly driverId: string;
  readonly lat: number;
  readonly lng: number;
  /** Device time of the driver's latest accepted fix. */
  readonly fixAt: number;
  /** Online, not on a ride, not holding another offer. */
  readonly free: boolean;
}

export interface MatchPolicy {
  /** Search rings, smallest first: a nearer ring with anyone in it wins over a wider one. */
  readonly radiiMeters: readonly number[];
  /** A driver whose last fix is older than this is not where we think: skip. */
  readonly freshnessMs: number;
  /** How many ranked candidates to return (the matcher tries them in order). */
  readonly limit: number;
  /** Offers before the ride is declared unmatched. */
  readonly maxRounds: number;
  readonly offerTimeoutMs: number;
}

export const defaultMatchPolicy: MatchPolicy = {
  radiiMeters: [1_000, 3_000, 8_000],
  freshnessMs: 60_000,
  limit: 5,
  maxRounds: 5,
  offerTimeoutMs: 15_000,
};

export interface RankedDriver {
  readonly driverId: string;
  readonly distanceMeters: number;
}

/**
 * Who gets the offer, best first: free, fresh drivers who have not passed on this ride, within the
 * smallest ring that holds any of them, nearest first (ties by id, so the answer is deterministic).
 */
export function rankCandidates(
  pickup: LatLng,
  candidates: readonly Candidate[],
  { now, passedBy, policy }: { now: number; passedBy: readonly string[]; policy: MatchPolicy },
): RankedDriver[] {
  const eligible: RankedDriver[] = [];
  for (const c of candidates) {
    if (!c.free || now - c.fixAt > policy.freshnessMs || passedBy.includes(c.driverId)) continue;
    eligible.push({ driverId: c.driverId, distanceMeters: Math.round(distanceMeters(pickup, c)) });
  }
  eligible.sort((a, b) => a.distanceMeters - b.distanceMeters || (a.driverId < b.driverId ? -1 : 1));
  for (const radius of policy.radiiMeters) {
    const inRing = eligible.filter((d) => d.distanceMeters <= radius);
    if (inRing.length > 0) return inRing.slice(0, policy.limit);
  }
  return [];
}
