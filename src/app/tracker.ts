import type { LatLng } from '../../domain/geo.ts';
import { batchFailure, type Recorded } from '../../domain/ports/event-log.ts';
import { evolve, FINAL_STATUSES, type OfferWithdrawn, type Ride, type RideEvent, type RideOffered } from '../../domain/ride/index.ts';
import { detectArrival, type ArrivalRules, type ArrivalState } from '../../domain/tracking/arrival.ts';
import type { EtaEstimator } from '../../domain/tracking/eta.ts';
import type { LocationRecorded } from '../../domain/tracking/events.ts';
import { smooth, type SmoothingState } from '../../domain/tracking/kalman.ts';
import type { Fleet } from '../../projections/fleet/index.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { Logger } from '../../domain/ports/logger.ts';
import type { Metrics } from './metrics.ts';
import type { LiveHub } from './live/hub.ts';
import { DEVICE_AT, type LocationMessage } from './messages.ts';

export interface TrackerOptions {
  readonly eta: EtaEstimator;
  readonly arrival: Partial<ArrivalRules>;
  /** Tells the ride the driver has arrived, on the driver's behalf (idempotent). */
  readonly markArrived: (rideId: string) => Promise<unknown>;
  /** Finished rides remembered, so what follows completion (fare, payment, rating) is still pushed. */
  readonly finishedKept?: number;
}

/**
 * This instance's live picture: where each driver is (Kalman-smoothed), which rides are active,
 * ETA and arrival detection, and the push of each move to the ride's watchers.
 */
export function makeTracker(ctx: { readonly fleet: Fleet; readonly metrics: Pick<Metrics, 'pushLatency'>; readonly logger: Logger; readonly clock: Clock }, hub: LiveHub, options: TrackerOptions) {
  const smoothing = new Map<string, SmoothingState>();
  const arrivals = new Map<string, ArrivalState>();
  /** Rides not yet completed, cancelled or unmatched, as of the last event seen. */
  const rides = new Map<string, Ride>();
  /** Recently finished rides (insertion order, oldest evicted first). */
  const finished = new Map<string, Ride>();
  const finishedKept = options.finishedKept ?? 10_000;
  const latest = new Map<string, LocationMessage>();
  /** Rides still looking for a driver (requested or offered): the matcher's sweep, without scanning every active ride. */
  const waiting = new Set<string>();
  /** The ride each driver has accepted and not finished: known from the rides stream before DriverAssigned lands. */
  const rideOfDriver = new Map<string, string>();
  let locationsSeen = 0;
  /** Bound once: observing with a label object hashes the labels per point. */
  const locationLatency = ctx.metrics.pushLatency.labels({ type: 'driver.location' });

  function etaFor(ride: Ride, at: LatLng, speedMps: number | null): number | null {
    if (ride.status === 'accepted') return options.eta.estimateSeconds(at, ride.pickup, { speedMps });
    if (ride.status === 'in_progress') return options.eta.estimateSeconds(at, ride.dropoff, { speedMps });
    return null;
  }

  /**
   * A batch of points (one consumer read), folded in order with no await per point: smoothing,
   * the fleet index, push. Arrivals found in the batch are recorded before it resolves (and so
   * before the batch is acknowledged).
   */
  async function onLocations(events: readonly Recorded<LocationRecorded>[]): Promise<void> {
    let arrived: Promise<unknown>[] | undefined;
    for (let i = 0; i < events.length; i++) {
      let rideId: string | null;
      try {
        rideId = locate(events[i]!);
      } catch (err) {
        throw batchFailure(i, err); // the points before it are folded: redeliver from this one
      }
      if (rideId) (arrived ??= []).push(options.markArrived(rideId).catch((err) => ctx.logger.warn({ err, rideId }, 'arrival not recorded')));
    }
    if (arrived) await Promise.all(arrived);
  }

  /** Folds one point; returns the ride whose driver it shows arriving at the pickup, if any. */
  function locate(e: Recorded<LocationRecorded>): string | null {
    locationsSeen++;
    const { driverId } = e.data;
    if (e.data.late) return null; // on the track (projection), but never moves the driver back
    // Older than what we show (a redelivery, or overtaken): it neither feeds the filter nor moves anyone.
    const shownAt = ctx.fleet.get(driverId)?.position?.recordedAt;
    if (shownAt !== undefined && shownAt >= e.data.recordedAt) return null;
    const smoothed = smooth(smoothing.get(driverId) ?? null, e.data);
    smoothing.set(driverId, smoothed.state);
    const shown = { lat: smoothed.lat, lng: smoothed.lng, heading: smoothed.heading, speed: Math.round(smoothed.speedMps * 10) / 10 };
    if (!ctx.fleet.moveDriver(e, shown)) return null;
    // The ride the point was recorded for at ingestion, as the track (projection) files it, so
    // what is pushed live is what a replay finds again.
    const rideId = e.data.rideId;
    const ride = rideId ? rides.get(rideId) : undefined;
    const onThisRide = ride && ride.driverId === driverId ? ride : undefined;
    const message: LocationMessage = {
      // Spelled out, not spread (a spread mid-literal copies property by property on each point); same key order.
      type: 'driver.location', rideId: onThisRide ? onThisRide.rideId : null, driverId, lat: shown.lat, lng: shown.lng, heading: shown.heading, speed: shown.speed,
      recordedAt: new Date(e.data.recordedAt).toISOString(),
      etaSeconds: onThisRide ? etaFor(onThisRide, shown, smoothed.speedMps) : null,
      eventId: e.metadata.eventId,
      [DEVICE_AT]: e.data.recordedAt,
    };
    if (onThisRide) latest.set(onThisRide.rideId, message);
    locationLatency.observe(Math.max(0, (ctx.clock.now() - e.metadata.recordedAtMs) / 1000));
    hub.publishLocation(message);
    if (onThisRide && onThisRide.status === 'accepted') {
      const decision = detectArrival(arrivals.get(onThisRide.rideId) ?? null, e.data, onThisRide.pickup, options.arrival);
      arrivals.set(onThisRide.rideId, decision.state);
      if (decision.arrived) return onThisRide.rideId;
    }
    return null;
  }

  return {
    activeRides: () => rides as ReadonlyMap<string, Ride>,
    /** The active rides still requested or offered. */
    waitingRides: () => [...waiting],
    rideOfDriver: (driverId: string) => rideOfDriver.get(driverId) ?? null,
    latestLocation: (rideId: string) => latest.get(rideId) ?? null,
    locationsSeen: () => locationsSeen,

    onRideEvent(e: Recorded<RideEvent>): void {
      const rideId = e.metadata.key;
      const before = rides.get(rideId) ?? finished.get(rideId) ?? null;
      // A redelivered event (at-least-once) must not move the ride back nor be pushed twice.
      if (before && e.metadata.version <= before.version) return;
      const ride = evolve(before ?? { status: 'none' }, e);
      if (ride.status === 'none') return;
      if (ride.status === 'requested' || ride.status === 'offered') waiting.add(rideId);
      else waiting.delete(rideId);
      if (FINAL_STATUSES.has(ride.status)) {
        if (ride.driverId && rideOfDriver.get(ride.driverId) === rideId) rideOfDriver.delete(ride.driverId);
        rides.delete(rideId);
        latest.delete(rideId);
        arrivals.delete(rideId);
        finished.delete(rideId);
        finished.set(rideId, ride);
        if (finished.size > finishedKept) finished.delete(finished.keys().next().value!);
      } else {
        rides.set(rideId, ride);
        if (ride.driverId) rideOfDriver.set(ride.driverId, rideId);
      }
      ctx.metrics.pushLatency.observe({ type: 'ride.status' }, Math.max(0, (ctx.clock.now() - e.metadata.recordedAtMs) / 1000));
      hub.publishRideEvent(e, ride);
      if (e.type === 'RideOffered') hub.publishOffer(e, ride);
      if (e.type === 'OfferWithdrawn') hub.publishOfferWithdrawn(e);
    },

    /** One point: as a batch of one. */
    onLocation: (e: Recorded<LocationRecorded>): Promise<void> => onLocations([e]),
    onLocations,
  };
}

export type Tracker = ReturnType<typeof makeTracker>;
