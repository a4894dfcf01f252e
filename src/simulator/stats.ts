import { createDispatchKpis, type DispatchKpiBook, type DispatchKpis } from './kpis.ts';

/** Counters the fleet keeps; rates are measured over the last few seconds. */
export interface FleetStats {
  driversTotal: number;
  /** Logged in, socket opened at least once. */
  driversReady: number;
  driversOnline: number;
  driversOnTrip: number;
  socketsConnected: number;
  riders: number;
  offersReceived: number;
  offersAccepted: number;
  offersDeclined: number;
  ridesRequested: number;
  ridesCompleted: number;
  ridesCancelled: number;
  ridesUnmatched: number;
  locationsSent: number;
  /** Points the server answered 202 to but refused one by one (its `rejected` count). */
  locationsRejected: number;
  locationsPerSecond: number;
  requests: number;
  requestsPerSecond: number;
  errors: number;
  errorsByCode: Record<string, number>;
  uptimeSeconds: number;
  /** Dispatch quality seen from the riders' and drivers' side (kpis.ts). */
  dispatch: DispatchKpis;
}

export type Counter =
  | 'offersReceived'
  | 'offersAccepted'
  | 'offersDeclined'
  | 'ridesRequested'
  | 'ridesCompleted'
  | 'ridesCancelled'
  | 'ridesUnmatched'
  | 'locationsSent'
  | 'locationsRejected';

export interface StatsBook {
  /** Per-ride times for the dispatch KPIs. */
  readonly dispatch: DispatchKpiBook;
  count(counter: Counter, by?: number): void;
  request(ok: boolean, code?: string): void;
  /** Called once a second: keeps the window the rates are measured over. */
  sample(now: number): void;
  snapshot(gauges: Pick<FleetStats, 'driversTotal' | 'driversReady' | 'driversOnline' | 'driversOnTrip' | 'socketsConnected' | 'riders'>): FleetStats;
}

const WINDOW = 5;

export function createStatsBook(startedAt: number): StatsBook {
  const counters: Record<Counter, number> = {
    offersReceived: 0,
    offersAccepted: 0,
    offersDeclined: 0,
    ridesRequested: 0,
    ridesCompleted: 0,
    ridesCancelled: 0,
    ridesUnmatched: 0,
    locationsSent: 0,
    locationsRejected: 0,
  };
  let requests = 0;
  let errors = 0;
  const dispatch = createDispatchKpis();
  const errorsByCode: Record<string, number> = {};
  const samples: { at: number; locations: number; requests: number }[] = [];
  const rate = (pick: (s: (typeof samples)[number]) => number) => {
    const first = samples[0];
    const last = samples[samples.length - 1];
    if (!first || !last || last.at <= first.at) return 0;
    return Math.round(((pick(last) - pick(first)) * 1000) / (last.at - first.at));
  };
  return {
    dispatch,
    count(counter, by = 1) {
      counters[counter] += by;
    },
    request(ok, code) {
      requests++;
      if (ok) return;
      errors++;
      const key = code ?? 'UNKNOWN';
      errorsByCode[key] = (errorsByCode[key] ?? 0) + 1;
    },
    sample(now) {
      samples.push({ at: now, locations: counters.locationsSent, requests });
      if (samples.length > WINDOW + 1) samples.shift();
    },
    snapshot(gauges) {
      return {
        ...gauges,
        ...counters,
        locationsPerSecond: rate((s) => s.locations),
        requests,
        requestsPerSecond: rate((s) => s.requests),
        errors,
        errorsByCode: { ...errorsByCode },
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        dispatch: dispatch.summary(),
      };
    },
  };
}

/** One line for a terminal: what a person watching the run wants to see at a glance. */
export function formatStats(s: FleetStats): string {
  const codes = Object.entries(s.errorsByCode)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  return (
    `drivers ${s.driversReady}/${s.driversTotal} ready, ${s.driversOnline} online, ${s.driversOnTrip} on trip, ${s.socketsConnected} sockets | ` +
    `rides ${s.ridesRequested} requested, ${s.ridesCompleted} completed, ${s.ridesCancelled} cancelled, ${s.ridesUnmatched} unmatched | ` +
    `offers ${s.offersAccepted}/${s.offersReceived} accepted | ${s.locationsPerSecond} loc/s${s.locationsRejected ? ` (${s.locationsRejected} rejected)` : ''}, ${s.requestsPerSecond} req/s | ` +
    `errors ${s.errors}${codes ? ` (${codes})` : ''}`
  );
}
