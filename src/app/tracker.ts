import type { LatLng } from '../../domain/geo.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import type { RideEvent, RideStatus } from '../../domain/ride/index.ts';
import { detectArrival, type ArrivalRules, type ArrivalState } from '../../domain/tracking/arrival.ts';
import type { EtaEstimator } from '../../domain/tracking/eta.ts';
import type { LocationRecorded } from '../../domain/tracking/events.ts';
import { smooth, type SmoothingState } from '../../domain/tracking/kalman.ts';
import type { Context } from './context.ts';
import type { LiveHub } from './live.ts';
import { STATUS_AFTER, type LocationMessage } from './messages.ts';

interface ActiveRide {
  status: RideStatus;
  riderId: string;
  driverId: string | null;
  pickup: LatLng;
  dropoff: LatLng;
}

export interface TrackerOptions {
  readonly eta: EtaEstimator;
  readonly arrival: Partial<ArrivalRules>;
  /** Tells the ride the driver has arrived, on the driver's behalf (idempotent). */
  readonly markArrived: (rideId: string) => Promise<unknown>;
}

/**
 * This instance's live picture: where each driver is (Kalman-smoothed), which rides are active,
 * ETA and arrival detection, and the push of each move to the ride's watchers.
 */
export function makeTracker(ctx: Context, hub: LiveHub, options: TrackerOptions) {
  const smoothing = new Map<string, SmoothingState>();
  const arrivals = new Map<string, ArrivalState>();
  const rides = new Map<string, ActiveRide>();
  const latest = new Map<string, LocationMessage>();
  let locationsSeen = 0;

  function etaFor(ride: ActiveRide, at: LatLng, speedMps: number | null): number | null {
    if (ride.status === 'accepted') return options.eta.estimateSeconds(at, ride.pickup, { speedMps });
    if (ride.status === 'in_progress') return options.eta.estimateSeconds(at, ride.dropoff, { speedMps });
    return null;
  }

  return {
    activeRides: () => rides,
    latestLocation: (rideId: string) => latest.get(rideId) ?? null,
    locationsSeen: () => locationsSeen,

    onRideEvent(e: Recorded<RideEvent>): void {
      const rideId = e.metadata.key;
      if (e.type === 'RideRequested') {
        const { riderId, pickup, dropoff } = e.data;
        rides.set(rideId, { status: 'requested', riderId, driverId: null, pickup, dropoff });
      }
      const ride = rides.get(rideId);
      if (!ride) return;
      ride.status = STATUS_AFTER[e.type];
      if (e.type === 'RideAccepted') ride.driverId = e.data.driverId;
      if (ride.status === 'completed' || ride.status === 'cancelled' || ride.status === 'unmatched') {
        rides.delete(rideId);
        latest.delete(rideId);
        arrivals.delete(rideId);
      }
      hub.publishRideEvent(e, { pickup: ride.pickup, dropoff: ride.dropoff, driverId: ride.driverId });
    },

    async onLocation(e: Recorded<LocationRecorded>): Promise<void> {
      locationsSeen++;
      const { driverId } = e.data;
      if (e.data.late) return; // on the track (projection), but never moves the driver back
      const smoothed = smooth(smoothing.get(driverId) ?? null, e.data);
      smoothing.set(driverId, smoothed.state);
      const shown = { lat: smoothed.lat, lng: smoothed.lng, heading: smoothed.heading, speed: Math.round(smoothed.speedMps * 10) / 10 };
      if (!ctx.fleet.moveDriver(e, shown)) return;
      const rideId = e.data.rideId ?? ctx.fleet.get(driverId)?.rideId ?? null;
      const ride = rideId ? rides.get(rideId) : undefined;
      const onThisRide = ride && ride.driverId === driverId ? ride : undefined;
      const message: LocationMessage = {
        type: 'driver.location', rideId: onThisRide ? rideId : null, driverId, ...shown,
        recordedAt: new Date(e.data.recordedAt).toISOString(),
        etaSeconds: onThisRide ? etaFor(onThisRide, shown, smoothed.speedMps) : null,
        eventId: e.metadata.eventId,
      };
      if (onThisRide && rideId) latest.set(rideId, message);
      hub.publishLocation(message);
      if (onThisRide && rideId && onThisRide.status === 'accepted') {
        const decision = detectArrival(arrivals.get(rideId) ?? null, e.data, onThisRide.pickup, options.arrival);
        arrivals.set(rideId, decision.state);
        if (decision.arrived) await options.markArrived(rideId).catch((err) => ctx.logger.warn({ err, rideId }, 'arrival not recorded'));
      }
    },
  };
}

export type Tracker = ReturnType<typeof makeTracker>;
