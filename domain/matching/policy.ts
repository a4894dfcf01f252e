import { fixIsFresh } from '../driver/index.ts';
import { distanceMeters, type LatLng } from '../geo.ts';
import { fairnessSeconds, type DriverRecord, type FairnessRules } from './dispatch.ts';

/** A driver as matching sees one: where they were last seen and whether they can take an offer. */
export interface Candidate extends DriverRecord {
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

/** Fairness seconds count as driving at this speed (≈ 22 km/h, a city average) when ranking by distance. */
const FAIRNESS_METERS_PER_SECOND = 6;

/**
 * Who gets the offer, best first: free, fresh drivers who have not passed on this ride, within the
 * smallest ring that holds any of them, nearest first. With `fairness`, a driver who missed offers
 * lately counts as further away and one idle longer as a little nearer (dispatch.ts); ties by
 * longest idle, then id, so the answer is deterministic.
 */
export function rankCandidates(
  pickup: LatLng,
  candidates: readonly Candidate[],
  { now, passedBy, policy, fairness }: { now: number; passedBy: readonly string[]; policy: MatchPolicy; fairness?: FairnessRules },
): RankedDriver[] {
  const eligible: (RankedDriver & { key: number; idleSince: number })[] = [];
  for (const c of candidates) {
    if (!c.free || !fixIsFresh(c.fixAt, now, policy.freshnessMs) || passedBy.includes(c.driverId)) continue;
    const meters = Math.round(distanceMeters(pickup, c));
    const key = fairness ? meters + Math.round(fairnessSeconds(c, now, fairness) * FAIRNESS_METERS_PER_SECOND) : meters;
    eligible.push({ driverId: c.driverId, distanceMeters: meters, key, idleSince: c.idleSince ?? now });
  }
  eligible.sort((a, b) => a.key - b.key || a.idleSince - b.idleSince || (a.driverId < b.driverId ? -1 : 1));
  for (const radius of policy.radiiMeters) {
    const inRing = eligible.filter((d) => d.distanceMeters <= radius);
    if (inRing.length > 0) return inRing.slice(0, policy.limit).map(({ driverId, distanceMeters }) => ({ driverId, distanceMeters }));
  }
  return [];
}
