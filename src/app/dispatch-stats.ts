import type { Recorded } from '../../domain/ports/event-log.ts';
import type { RideEvent } from '../../domain/ride/index.ts';

/** Pickups averaged for the live panel: recent enough to move when dispatch changes. */
const RECENT_PICKUPS = 200;

/**
 * Dispatch quality for the operators' status panel, folded from the rides stream this instance
 * reads anyway: the share of decided rides that got a driver, and the mean time from acceptance to
 * the driver at the pickup over the last few hundred pickups.
 */
export function makeDispatchStats() {
  let matched = 0;
  let unmatched = 0;
  const acceptedAt = new Map<string, number>();
  const recent: number[] = [];
  return {
    onRideEvent(e: Recorded<RideEvent>): void {
      switch (e.type) {
        case 'RideAccepted':
          if (acceptedAt.has(e.metadata.key)) return;
          matched++;
          acceptedAt.set(e.metadata.key, e.data.at);
          return;
        case 'RideUnmatched':
          unmatched++;
          return;
        case 'DriverArrived': {
          const at = acceptedAt.get(e.metadata.key);
          if (at === undefined) return;
          acceptedAt.delete(e.metadata.key);
          recent.push(Math.max(0, e.data.at - at) / 1000);
          if (recent.length > RECENT_PICKUPS) recent.shift();
          return;
        }
        case 'RideCancelled':
          acceptedAt.delete(e.metadata.key);
          return;
        default:
          return;
      }
    },
    /** `matchRate` in [0, 1] and `meanPickupSeconds`, or null before anything was decided. */
    snapshot() {
      const decided = matched + unmatched;
      return {
        matchRate: decided ? Math.round((matched / decided) * 1000) / 1000 : null,
        meanPickupSeconds: recent.length ? Math.round(recent.reduce((a, b) => a + b, 0) / recent.length) : null,
      };
    },
  };
}
