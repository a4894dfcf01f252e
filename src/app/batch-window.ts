import type { LatLng } from '../../domain/geo.ts';
import { maxPickupSeconds, planWindow, ringsFrom, type FairnessRules, type WindowDriver, type WindowRequest } from '../../domain/matching/dispatch.ts';
import type { EtaEstimator } from '../../domain/tracking/eta.ts';
import { freeWithFreshFix, type FleetDriver } from '../../projections/fleet/index.ts';
import type { MatchPolicy } from '../../domain/matching/policy.ts';
import type { Fleet } from '../../projections/fleet/index.ts';
import type { Clock } from '../../domain/ports/clock.ts';

/** A window's choice for one ride, tried by the matcher under the ride's lease. */
export interface Proposal {
  readonly driverId: string;
  readonly etaSeconds: number;
  readonly at: number;
}

export interface BatchWindowOptions {
  readonly windowMs: number;
  readonly eta: EtaEstimator;
  readonly fairness: FairnessRules;
  /** Called for every ride the window looked at, once its proposals are in: the matcher takes it from there. */
  readonly reconsider: (rideId: string) => void;
}

interface Waiting {
  pickup: LatLng;
  passedBy: readonly string[];
}

/**
 * The `batched` dispatch policy's window: rides that need a driver wait here at most `windowMs`
 * (the window opens with its first ride); then the whole window is solved as one minimum-cost
 * assignment (domain/matching/dispatch.ts) over the free drivers near each pickup, and each ride is
 * handed back to the matcher with its proposal, which holds and offers exactly as `nearest` does. A
 * ride left without a driver waits for the next window and searches from a wider ring.
 */
export function makeBatchWindow(ctx: { readonly fleet: Fleet; readonly matchPolicy: MatchPolicy; readonly clock: Clock }, options: BatchWindowOptions) {
  const { fleet, matchPolicy: policy, clock } = ctx;
  const now = () => clock.now();
  const waiting = new Map<string, Waiting>();
  /** Windows a ride has waited without a proposal: its search starts that many rings out. */
  const widened = new Map<string, number>();
  const proposals = new Map<string, Proposal>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function flush(): void {
    timer = undefined;
    if (stopped) return;
    const at = now();
    const entries = [...waiting.entries()];
    waiting.clear();
    const requests: WindowRequest[] = entries.map(([rideId, w]) => ({ rideId, pickup: w.pickup }));
    const candidatesOf = (_: WindowRequest, i: number): WindowDriver[] => {
      const [rideId, w] = entries[i]!;
      const eligible = (d: FleetDriver) =>
        freeWithFreshFix(d, at, policy.freshnessMs) && !w.passedBy.includes(d.driverId);
      for (const radius of ringsFrom(policy.radiiMeters, widened.get(rideId) ?? 0)) {
        const found = fleet.nearest(w.pickup, policy.limit * 2, radius, eligible);
        if (found.length === 0) continue;
        return found.map((c) => ({ ...c, speedMps: fleet.get(c.driverId)?.position?.speed ?? null }));
      }
      return [];
    };
    const rules = { maxPickupSeconds: maxPickupSeconds(policy.radiiMeters, options.eta), fairness: options.fairness };
    for (const m of planWindow(requests, candidatesOf, { eta: options.eta, now: at, rules }))
      proposals.set(m.rideId, { driverId: m.driverId, etaSeconds: m.etaSeconds, at });
    for (const [rideId] of entries) {
      if (!proposals.has(rideId)) widened.set(rideId, (widened.get(rideId) ?? 0) + 1);
      options.reconsider(rideId);
    }
  }

  return {
    /** The ride needs a driver: it joins the open window (or opens one). */
    enqueue(rideId: string, pickup: LatLng, passedBy: readonly string[]): void {
      if (stopped) return;
      waiting.set(rideId, { pickup, passedBy });
      if (!timer) {
        timer = setTimeout(flush, options.windowMs);
        timer.unref();
      }
    },
    /** This window's proposal for the ride, once: a stale one (an older window, a driver who passed) is dropped. */
    takeProposal(rideId: string, passedBy: readonly string[]): Proposal | null {
      const p = proposals.get(rideId);
      proposals.delete(rideId);
      if (!p || passedBy.includes(p.driverId) || now() - p.at > options.windowMs) return null;
      return p;
    },
    /** The ride got its offer or left matching: forget its widening. */
    settled(rideId: string): void {
      widened.delete(rideId);
      waiting.delete(rideId);
      proposals.delete(rideId);
    },
    isWaiting: (rideId: string) => waiting.has(rideId),
    stop(): void {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

