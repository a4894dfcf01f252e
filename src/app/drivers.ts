import type { Actor } from '../../domain/actor.ts';
import { driverDecider, type DriverCommand } from '../../domain/driver/index.ts';
import { DomainError } from '../../domain/errors.ts';
import { handle } from '../../domain/handle.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { EventLog } from '../../domain/ports/event-log.ts';
import { distanceMeters } from '../../domain/geo.ts';
import type { DriverQueries } from '../../domain/ports/driver-queries.ts';
import type { DriverPositions } from '../../domain/ports/positions.ts';
import { isFreeNow, type Fleet } from '../../projections/fleet/index.ts';
import type { Metrics } from './metrics.ts';

export interface DriverServiceDeps {
  readonly log: EventLog;
  readonly clock: Clock;
  readonly metrics: Pick<Metrics, 'eventsAppended'>;
}

/** Driver-side commands on the `drivers` stream (availability, offer holds, assignment). */
export function makeDriverService({ log, clock, metrics }: DriverServiceDeps) {
  async function command(driverId: string, cmd: DriverCommand) {
    const { state, appended } = await handle(log, 'drivers', driverId, driverDecider, cmd);
    if (appended.length) metrics.eventsAppended.inc({ stream: 'drivers' }, appended.length);
    return state;
  }

  return {
    command,
    async setAvailability(actor: Actor, available: boolean) {
      if (actor.role !== 'driver') throw new DomainError('FORBIDDEN', 403, 'only drivers have availability');
      const state = await command(actor.userId, { type: 'SetAvailability', data: { driverId: actor.userId, available, at: clock.now() } });
      return { driverId: actor.userId, available: state.available, rideId: state.rideId };
    },
  };
}

export type DriverService = ReturnType<typeof makeDriverService>;

export interface NearbyDeps {
  /** Shared positions (Redis GEO) when the deployment has them; else this instance's fleet index. */
  readonly positions?: Pick<DriverPositions, 'nearby'>;
  readonly fleet: Pick<Fleet, 'nearest'>;
  readonly clock: Clock;
  /** A driver last seen longer ago than this is not shown. */
  readonly freshnessMs: number;
}

/**
 * `GET /v1/drivers/nearby`, moved out of the route as it was. The selection rule itself is being
 * unified with the driver decider's `isFree` elsewhere (src/app/nearby.ts replaces this).
 */
export function makeDriverQueries({ positions, fleet, clock, freshnessMs }: NearbyDeps): DriverQueries {
  return {
    async nearby({ lat, lng, radiusMeters, limit }) {
      if (positions) {
        const near = await positions.nearby({ lat, lng }, radiusMeters, limit);
        return near.map((d) => ({ driverId: d.driverId, lat: d.lat, lng: d.lng, distanceMeters: Math.round(d.distanceM) }));
      }
      const now = clock.now();
      const found = fleet.nearest({ lat, lng }, limit, radiusMeters, (d) => isFreeNow(d, now) && !!d.position && now - d.position.recordedAt <= freshnessMs);
      return found
        .map((d) => ({ driverId: d.driverId, lat: d.lat, lng: d.lng, distanceMeters: Math.round(distanceMeters({ lat, lng }, d)) }))
        .filter((d) => d.distanceMeters <= radiusMeters)
        .sort((a, b) => a.distanceMeters - b.distanceMeters);
    },
  };
}
