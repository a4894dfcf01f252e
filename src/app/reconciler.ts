import { systemActor } from '../../domain/actor.ts';
import { fold } from '../../domain/decider.ts';
import { DomainError } from '../../domain/errors.ts';
import { FINAL_STATUSES, rideDecider } from '../../domain/ride/index.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { Fleet } from '../../projections/fleet/index.ts';
import type { Logger } from '../../domain/ports/logger.ts';
import type { Metrics } from './metrics.ts';
import type { DriverService } from './drivers.ts';
import type { RideService } from './rides.ts';
import type { Tracker } from './tracker.ts';

export interface ReconcilerOptions {
  /** How often it looks. Also the grace a reaction gets before the reconciler does its work. */
  readonly intervalMs: number;
  /** An accepted or started ride whose driver has reported no location for this long is cancelled. */
  readonly driverLostMs: number;
}

export interface Repairs {
  /** Drivers freed from a ride that had ended. */
  readonly freed: string[];
  /** Rides cancelled because their driver vanished. */
  readonly cancelled: string[];
}

const UNDER_WAY = new Set(['accepted', 'arrived', 'in_progress']);

/** What the rider reads on the cancelled ride (`ride.status` carries `by: "system"` and this reason). */
export const driverLostReason = (ms: number) => `driver lost: no location from the driver for ${Math.round(ms / 60_000)} min`;

/**
 * Repairs what a lost reaction left behind, from the log's state rather than its events, so it does
 * not matter which event went missing (a reaction dead-lettered by an older version, an instance that
 * died between two appends, a simulator stopped mid-trip):
 *  - a driver still assigned to a ride that has ended is freed (the TripCompleted/RideCancelled
 *    reaction did not land);
 *  - a ride under way (accepted, arrived, in progress) whose driver has sent no location for
 *    `driverLostMs` is cancelled by the system with a reason, and its driver freed by the reaction.
 * Every repair is a command through the deciders, so two instances reconciling at once (or a late
 * reaction) cannot apply it twice. Time comes from the injected clock.
 */
export interface ReconcilerDeps {
  /** Which drivers are assigned, and when each was last seen. */
  readonly fleet: Pick<Fleet, 'all' | 'get'>;
  readonly clock: Clock;
  readonly metrics: Pick<Metrics, 'reconciled'>;
  readonly logger: Logger;
}

export function makeReconciler({ fleet, clock, metrics, logger }: ReconcilerDeps, deps: { drivers: DriverService; rides: RideService; tracker: Tracker }, options: ReconcilerOptions) {
  const { drivers, rides, tracker } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<Repairs> | null = null;

  /**
   * The ride as the log folds it, and when it ended. An unmatched ride has no end time: no driver
   * was ever assigned to it, so a driver holding it gets no grace.
   */
  async function rideNow(rideId: string) {
    const state = fold(rideDecider, await rides.history(rideId));
    const endedAt = state.status === 'none' ? null : (state.completedAt ?? state.cancelledAt);
    return { state, endedAt, acceptedAt: state.status === 'none' ? null : state.acceptedAt };
  }

  async function freeDriversOfEndedRides(at: number, freed: string[]): Promise<void> {
    for (const d of [...fleet.all()]) {
      const rideId = d.rideId;
      if (!rideId || tracker.activeRides().has(rideId)) continue;
      const { state, endedAt } = await rideNow(rideId);
      if (state.status === 'none' || !FINAL_STATUSES.has(state.status)) continue;
      // Give the reaction its chance first: it normally lands within milliseconds of the end.
      if (endedAt !== null && at - endedAt < options.intervalMs) continue;
      const after = await drivers.command(d.driverId, { type: 'FreeDriver', data: { driverId: d.driverId, rideId, at } });
      if (after.rideId === null) {
        freed.push(d.driverId);
        metrics.reconciled.inc({ repair: 'driver_freed' });
        logger.warn({ driverId: d.driverId, rideId, status: state.status }, 'reconciler: freed a driver still assigned to an ended ride');
      }
    }
  }

  async function cancelRidesOfLostDrivers(at: number, cancelled: string[]): Promise<void> {
    for (const [rideId, ride] of [...tracker.activeRides()]) {
      if (!ride.driverId || !UNDER_WAY.has(ride.status)) continue;
      const fixAt = fleet.get(ride.driverId)?.position?.recordedAt ?? -Infinity;
      if (at - fixAt < options.driverLostMs) continue;
      // No recent fix: count from the acceptance when that is later (a driver who accepted and never moved yet).
      const { state, acceptedAt } = await rideNow(rideId);
      if (state.status === 'none' || !UNDER_WAY.has(state.status)) continue;
      if (at - Math.max(fixAt, acceptedAt ?? -Infinity) < options.driverLostMs) continue;
      try {
        await rides.cancel(systemActor, rideId, driverLostReason(options.driverLostMs));
        cancelled.push(rideId);
        metrics.reconciled.inc({ repair: 'ride_cancelled_driver_lost' });
        logger.warn({ rideId, driverId: ride.driverId, lastFixAt: Number.isFinite(fixAt) ? fixAt : null }, 'reconciler: cancelled a ride whose driver vanished');
      } catch (err) {
        // It ended meanwhile (another instance, the driver came back and completed): nothing to repair.
        if (!(err instanceof DomainError)) throw err;
      }
    }
  }

  async function pass(): Promise<Repairs> {
    const at = clock.now();
    const repairs: Repairs = { freed: [], cancelled: [] };
    await cancelRidesOfLostDrivers(at, repairs.cancelled);
    await freeDriversOfEndedRides(at, repairs.freed);
    return repairs;
  }

  return {
    /** One pass now (tests, and the timer); a pass already running is joined, not doubled. */
    runOnce(): Promise<Repairs> {
      running ??= pass().finally(() => (running = null));
      return running;
    },
    start(): void {
      timer = setInterval(() => {
        this.runOnce().catch((err: unknown) => logger.warn({ err }, 'reconciler pass failed; next pass retries'));
      }, options.intervalMs);
      timer.unref();
    },
    stop(): void {
      clearInterval(timer);
    },
  };
}
