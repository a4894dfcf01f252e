import { METERS_PER_DEGREE, type LatLng } from '../geo.ts';
import type { EtaEstimator } from '../tracking/eta.ts';
import { solveSparseAssignment } from './assignment.ts';

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
  /**
   * Fan-out top-up: the ride is already offered to fewer than K drivers (holds failed, or nobody
   * else was free) and wants this many more. It takes no part in the assignment: it gets only
   * drivers every matched ride left free, after their own alternates, so topping up a ride that has
   * offers never costs a ride that has none.
   */
  readonly topUp?: number;
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
  /**
   * Offer fan-out (OFFER_FANOUT): how many drivers each matched ride is offered to at once. The
   * assignment picks the first; the others are the ride's next-best candidates the window gave to no
   * ride, each offered to one ride only. 1 (default): no alternates.
   */
  readonly fanout?: number;
}

export interface WindowMatch {
  readonly rideId: string;
  readonly driverId: string;
  /** The estimated pickup time the pair was chosen on (without the fairness adjustment). */
  readonly etaSeconds: number;
  /** With `fanout` > 1: up to fanout − 1 more drivers for the same ride, best first. */
  readonly alternates?: readonly { readonly driverId: string; readonly etaSeconds: number }[];
  /** A top-up request's answer: `driverId` and `alternates` all join the ride's open round. */
  readonly topUp?: true;
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
  // Columns by driver id: callers may hand the same driver as different objects to different rows.
  const column = new Map<string, number>();
  const drivers: WindowDriver[] = [];
  const lists = requests.map((request, i) => {
    const list = candidatesOf(request, i);
    const cols = new Int32Array(list.length);
    list.forEach((d, k) => {
      let col = column.get(d.driverId);
      if (col === undefined) column.set(d.driverId, (col = drivers.push(d) - 1));
      cols[k] = col;
    });
    return cols;
  });
  const width = Math.max(0, ...lists.map((l) => l.length));
  return planIndexedWindow(
    { requests, columns: drivers.length, driverOf: (col) => drivers[col]!, maxCandidates: width, candidates: (row, out) => (out.set(lists[row]!), lists[row]!.length) },
    { eta, now, rules },
  );
}

/** A window by column number, for a caller that numbers its drivers itself (no map by id, no object per pair). */
export interface IndexedWindow {
  readonly requests: readonly WindowRequest[];
  /** Columns are 0 … columns − 1; a column no row names costs nothing. */
  readonly columns: number;
  /** The driver of a column; asked once per column some row names. */
  readonly driverOf: (col: number) => WindowDriver;
  /** The most candidates any row has. */
  readonly maxCandidates: number;
  /** Writes the row's candidate columns into `out` (length `maxCandidates`); returns how many. */
  readonly candidates: (row: number, out: Int32Array) => number;
}

/** planWindow's work: the ETA graph in compressed sparse rows (assignment.ts), then the assignment. */
export function planIndexedWindow(window: IndexedWindow, { eta, now, rules }: { eta: EtaEstimator; now: number; rules: WindowRules }): WindowMatch[] {
  const { requests, columns } = window;
  // One typed array per field, grown by doubling, never an object per pair; fairness and the driver
  // record are per column, looked up once.
  const fair = new Float64Array(columns).fill(NaN);
  const driverAt: (WindowDriver | undefined)[] = new Array(columns);
  const rowStart = new Int32Array(requests.length + 1);
  const scratch = new Int32Array(window.maxCandidates);
  let edgeCol = new Int32Array(Math.max(16, requests.length * window.maxCandidates));
  let edgeCost = new Float64Array(edgeCol.length);
  let edgeEta = new Float64Array(edgeCol.length); // the ETA without fairness, reported on the match
  let n = 0;
  const maxPenalty = rules.fairness.missedOfferMaxCount * rules.fairness.missedOfferPenaltySeconds;
  // Top-up rows keep their edges aside (few: rides already offered) and give the solver none.
  const topUpEdges = new Map<number, { col: number; cost: number; eta: number }[]>();
  for (let i = 0; i < requests.length; i++) {
    const pickup = requests[i]!.pickup;
    const aside: { col: number; cost: number; eta: number }[] | null = (requests[i]!.topUp ?? 0) > 0 ? [] : null;
    if (aside) topUpEdges.set(i, aside);
    const count = window.candidates(i, scratch);
    if (n + count > edgeCol.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (size: number) => T)(Math.max(a.length * 2, n + count));
        b.set(a);
        return b;
      };
      (edgeCol = grow(edgeCol)), (edgeCost = grow(edgeCost)), (edgeEta = grow(edgeEta));
    }
    for (let k = 0; k < count; k++) {
      const col = scratch[k]!;
      let d = driverAt[col];
      if (!d) {
        d = driverAt[col] = window.driverOf(col);
        fair[col] = fairnessSeconds(d, now, rules.fairness);
      }
      const seconds = eta.estimateSeconds(d, pickup, { speedMps: d.speedMps });
      if (seconds > rules.maxPickupSeconds) continue;
      if (aside) {
        aside.push({ col, cost: seconds + fair[col]!, eta: seconds });
        continue;
      }
      edgeCol[n] = col;
      edgeCost[n] = seconds + fair[col]!;
      edgeEta[n++] = seconds;
    }
    rowStart[i + 1] = n;
  }
  // Well above any edge: matching one more request is worth more than any pickup-time saving.
  const unassignedCost = 4 * (rules.maxPickupSeconds + maxPenalty + 1);
  const { colOf } = solveSparseAssignment({ cols: columns, rowStart, edgeCol, edgeCost, unassignedCost });
  const extra = Math.max(0, Math.floor(rules.fanout ?? 1) - 1);
  // Fan-out alternates come from drivers the assignment left free, each given to one ride only
  // (rides in window order), so fan-out never takes a driver the window chose for another ride.
  const taken = new Uint8Array(extra > 0 || topUpEdges.size > 0 ? columns : 0);
  if (taken.length > 0) for (let i = 0; i < requests.length; i++) if (colOf[i]! >= 0) taken[colOf[i]!] = 1;
  const matches: WindowMatch[] = [];
  for (let i = 0; i < requests.length; i++) {
    const col = colOf[i]!;
    if (col < 0) continue;
    let k = rowStart[i]!;
    while (edgeCol[k] !== col) k++;
    const match = { rideId: requests[i]!.rideId, driverId: driverAt[col]!.driverId, etaSeconds: edgeEta[k]! };
    if (extra === 0) {
      matches.push(match);
      continue;
    }
    const free: number[] = [];
    for (let e = rowStart[i]!; e < rowStart[i + 1]!; e++) if (!taken[edgeCol[e]!]) free.push(e);
    free.sort((a, b) => edgeCost[a]! - edgeCost[b]! || edgeCol[a]! - edgeCol[b]!);
    const alternates = free.slice(0, extra).map((e) => {
      taken[edgeCol[e]!] = 1;
      return { driverId: driverAt[edgeCol[e]!]!.driverId, etaSeconds: edgeEta[e]! };
    });
    matches.push({ ...match, alternates });
  }
  // Last, the top-ups, in window order: each takes up to what it asks for from what is left.
  for (const [i, edges] of topUpEdges) {
    edges.sort((a, b) => a.cost - b.cost || a.col - b.col);
    const picked: { driverId: string; etaSeconds: number }[] = [];
    for (const e of edges) {
      if (picked.length >= requests[i]!.topUp! || taken[e.col]) continue;
      taken[e.col] = 1;
      picked.push({ driverId: driverAt[e.col]!.driverId, etaSeconds: e.eta });
    }
    if (picked.length > 0) matches.push({ rideId: requests[i]!.rideId, ...picked[0]!, alternates: picked.slice(1), topUp: true });
  }
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
