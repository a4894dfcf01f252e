/**
 * Dispatch quality, as a rider and a driver feel it: how many requests got a driver, how long they
 * waited for one, how far away that driver was (estimated at the offer and actually), how many
 * offers a ride took, and how much of their online time drivers spent carrying riders. Fed with
 * times (ms) by whoever watches the rides: the live simulator from its sockets, the dispatch bench
 * from its discrete-time city. The summary is plain JSON, written at the end of a run.
 */
export interface DispatchKpis {
  requests: number;
  matched: number;
  unmatched: number;
  /** matched ÷ requests that reached an outcome (matched or unmatched). */
  matchRate: number;
  /** Request → accepted offer, seconds. */
  timeToMatchS: { p50: number; p90: number };
  /** The ETA on the offer the driver accepted, seconds. */
  pickupEtaS: { mean: number; p50: number; p90: number };
  /** Accepted → driver at the pickup, seconds. */
  pickupActualS: { mean: number; p50: number; p90: number };
  offersPerRide: number;
  declines: number;
  expiries: number;
  /** Share of driver-online time spent on a ride (heading to the pickup or carrying the rider). */
  driverUtilisation: number;
  /** Share of driver-online time spent free: not on a ride (the dispatch bench also leaves out time spent
   * holding an offer; the live simulator counts a driver deciding on an offer as free). */
  driverIdleShare: number;
}

interface RideTimes {
  requestedAt: number;
  offers: number;
  acceptedAt?: number;
  etaSeconds?: number;
  pickedUpAt?: number;
  outcome?: 'matched' | 'unmatched';
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}
const round = (v: number, digits = 1) => (Number.isFinite(v) ? Math.round(v * 10 ** digits) / 10 ** digits : v);
const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN;
  return { mean: round(mean), p50: round(percentile(sorted, 0.5)), p90: round(percentile(sorted, 0.9)) };
};

export function createDispatchKpis() {
  const rides = new Map<string, RideTimes>();
  let declines = 0;
  let expiries = 0;
  let onlineMs = 0;
  let busyMs = 0;
  let idleMs = 0;
  const ride = (rideId: string, at: number) => {
    let r = rides.get(rideId);
    if (!r) rides.set(rideId, (r = { requestedAt: at, offers: 0 }));
    return r;
  };
  return {
    requested(rideId: string, at: number) {
      ride(rideId, at).requestedAt = at;
    },
    offered(rideId: string, at: number) {
      ride(rideId, at).offers++;
    },
    declined() {
      declines++;
    },
    expired() {
      expiries++;
    },
    /** The driver accepted; `etaSeconds` is the estimate the offer carried. */
    accepted(rideId: string, at: number, etaSeconds: number) {
      const r = ride(rideId, at);
      if (r.outcome) return;
      Object.assign(r, { acceptedAt: at, etaSeconds, outcome: 'matched' });
    },
    pickedUp(rideId: string, at: number) {
      const r = rides.get(rideId);
      if (r && r.pickedUpAt === undefined) r.pickedUpAt = at;
    },
    unmatched(rideId: string, at: number) {
      const r = ride(rideId, at);
      if (!r.outcome) r.outcome = 'unmatched';
    },
    /** Driver time over `ms`: how many were online, on a ride, and free. Call at a steady pace. */
    sampleDrivers(ms: number, counts: { online: number; busy: number; idle: number }) {
      onlineMs += counts.online * ms;
      busyMs += counts.busy * ms;
      idleMs += counts.idle * ms;
    },
    summary(): DispatchKpis {
      const all = [...rides.values()];
      const matched = all.filter((r) => r.outcome === 'matched');
      const unmatched = all.filter((r) => r.outcome === 'unmatched').length;
      const decided = matched.length + unmatched;
      const sortedMatch = matched.map((r) => (r.acceptedAt! - r.requestedAt) / 1000).sort((a, b) => a - b);
      const picked = matched.filter((r) => r.pickedUpAt !== undefined);
      return {
        requests: all.length,
        matched: matched.length,
        unmatched,
        matchRate: decided ? round(matched.length / decided, 4) : NaN,
        timeToMatchS: { p50: round(percentile(sortedMatch, 0.5)), p90: round(percentile(sortedMatch, 0.9)) },
        pickupEtaS: summary(matched.map((r) => r.etaSeconds!)),
        pickupActualS: summary(picked.map((r) => (r.pickedUpAt! - r.acceptedAt!) / 1000)),
        offersPerRide: all.length ? round(all.reduce((n, r) => n + r.offers, 0) / all.length, 2) : NaN,
        declines,
        expiries,
        driverUtilisation: onlineMs ? round(busyMs / onlineMs, 4) : NaN,
        driverIdleShare: onlineMs ? round(idleMs / onlineMs, 4) : NaN,
      };
    },
  };
}

export type DispatchKpiBook = ReturnType<typeof createDispatchKpis>;

/** One line for a terminal. */
export function formatKpis(k: DispatchKpis): string {
  return (
    `dispatch: ${k.requests} requests, match rate ${(k.matchRate * 100).toFixed(1)}%, time to match p50 ${k.timeToMatchS.p50} s p90 ${k.timeToMatchS.p90} s | ` +
    `pickup ETA mean ${k.pickupEtaS.mean} s, actual mean ${k.pickupActualS.mean} s (p50 ${k.pickupActualS.p50}, p90 ${k.pickupActualS.p90}) | ` +
    `${k.offersPerRide} offers/ride, ${k.declines} declines, ${k.expiries} expiries | utilisation ${(k.driverUtilisation * 100).toFixed(1)}%, idle ${(k.driverIdleShare * 100).toFixed(1)}%`
  );
}
