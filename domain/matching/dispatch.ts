import { METERS_PER_DEGREE, type LatLng } from '../geo.ts';
import type { EtaEstimator } from '../tracking/eta.ts';
import { solveAssignment, type AssignmentEdge } from './assignment.ts';

/**
 * Fairness and acceptance, in seconds of pickup so both policies weigh them the same way:
 * - a driver idle longer wins a near-tie (a bonus that grows with idle time, capped small so it
 *   never sends a far driver past a near one by more than `idleBonusMaxSeconds`);
 * - a driver who declined or let offers expire recently counts as that many seconds further away
 *   per missed offer (up to `missedOfferMaxCount`), so they are offered less while others are free,
 *   and are still offered when they are the only one; a missed offer is forgotten after
 *   `missedOfferMemoryMs`.
 */
export interface FairnessRules {
  readonly idleBonusSecondsPerMinute: number;
  readonly idleBonusMaxSeconds: number;
  readonly missedOfferPenaltySeconds: number;
  readonly missedOfferMaxCount: number;
  readonly missedOfferMemoryMs: number;
}

export const defaultFairnessRules: FairnessRules = {
  idleBonusSecondsPerMinute: 0.5,
  idleBonusMaxSeconds: 10,
  missedOfferPenaltySeconds: 60,
  missedOfferMaxCount: 3,
  missedOfferMemoryMs: 15 * 60_000,
};

/** What fairness needs to know of a driver. */
export interface DriverRecord {
  /** Since when the driver has been free (online and without a ride); null when unknown. */
  readonly idleSince?: number | null;
  /** When the driver recently declined or let an offer expire. */
  readonly missedOffersAt?: readonly number[];
}

/** Seconds added to a driver's pickup cost: penalty for missed offers minus the idle tie-break. */
export function fairnessSeconds(driver: DriverRecord, now: number, rules: FairnessRules): number {
  let missed = 0;
  for (const at of driver.missedOffersAt ?? []) if (now - at < rules.missedOfferMemoryMs) missed++;
  const penalty = Math.min(missed, rules.missedOfferMaxCount) * rules.missedOfferPenaltySeconds;
  const idleMinutes = driver.idleSince == null ? 0 : Math.max(0, now - driver.idleSince) / 60_000;
  return penalty - Math.min(rules.idleBonusMaxSeconds, idleMinutes * rules.idleBonusSecondsPerMinute);
}

export interface WindowRequest {
  readonly rideId: string;
  readonly pickup: LatLng;
}

export interface WindowDriver extends DriverRecord {
  readonly driverId: string;
  readonly lat: number;
  readonly lng: number;
  /** Current speed in m/s, for the ETA; null when unknown. */
  readonly speedMps: number | null;
}

export interface WindowRules {
  /** A driver further than this many seconds from a pickup is no candidate for it (graph pruning). */
  readonly maxPickupSeconds: number;
  readonly fairness: FairnessRules;
}

export interface WindowMatch {
  readonly rideId: string;
  readonly driverId: string;
  /** The estimated pickup time the pair was chosen on (without the fairness adjustment). */
  readonly etaSeconds: number;
}

/**
 * One batching window: the requests that waited in it, each with the candidate drivers found near
 * its pickup (kNN within its current radius), solved as one minimum-cost assignment on estimated
 * pickup seconds plus fairness. Returns the pairs; a request left out waits for the next window.
 */
export function planWindow(
  requests: readonly WindowRequest[],
  candidatesOf: (request: WindowRequest, index: number) => readonly WindowDriver[],
  { eta, now, rules }: { eta: EtaEstimator; now: number; rules: WindowRules },
): WindowMatch[] {
  const column = new Map<string, number>();
  const drivers: WindowDriver[] = [];
  const edges: AssignmentEdge[][] = [];
  const etas: number[][] = []; // parallel to edges: the ETA without fairness
  const maxPenalty = rules.fairness.missedOfferMaxCount * rules.fairness.missedOfferPenaltySeconds;
  requests.forEach((request, i) => {
    const list: AssignmentEdge[] = [];
    const etaOf: number[] = [];
    for (const d of candidatesOf(request, i)) {
      const seconds = eta.estimateSeconds(d, request.pickup, { speedMps: d.speedMps });
      if (seconds > rules.maxPickupSeconds) continue;
      let col = column.get(d.driverId);
      if (col === undefined) {
        col = drivers.length;
        column.set(d.driverId, col);
        drivers.push(d);
      }
      list.push({ col, cost: seconds + fairnessSeconds(d, now, rules.fairness) });
      etaOf.push(seconds);
    }
    edges.push(list);
    etas.push(etaOf);
  });
  // Well above any edge: matching one more request is worth more than any pickup-time saving.
  const unassignedCost = 4 * (rules.maxPickupSeconds + maxPenalty + 1);
  const { colOf } = solveAssignment({ cols: drivers.length, edges, unassignedCost });
  const matches: WindowMatch[] = [];
  colOf.forEach((col, i) => {
    if (col < 0) return;
    const k = edges[i]!.findIndex((e) => e.col === col);
    matches.push({ rideId: requests[i]!.rideId, driverId: drivers[col]!.driverId, etaSeconds: etas[i]![k]! });
  });
  return matches;
}

/**
 * The rings a request searches in its next window, smallest first: one that waited `windowsWaited`
 * windows without a driver starts further out, so its candidate set widens window by window.
 */
export const ringsFrom = (radiiMeters: readonly number[], windowsWaited: number): readonly number[] =>
  radiiMeters.slice(Math.min(windowsWaited, Math.max(0, radiiMeters.length - 1)));

/** The pickup ETA cap: what the widest ring takes by the estimator with no speed known, so the cap
 * never refuses a driver the rings (and `nearest`) would offer. */
export function maxPickupSeconds(radiiMeters: readonly number[], eta: EtaEstimator): number {
  const widest = radiiMeters.at(-1) ?? 5_000;
  return eta.estimateSeconds({ lat: 0, lng: 0 }, { lat: widest / METERS_PER_DEGREE, lng: 0 }, { speedMps: null });
}
