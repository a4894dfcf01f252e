import type { DriverEvent } from '../driver/index.ts';
import type { LatLng } from '../geo.ts';
import type { Recorded } from './event-log.ts';
import type { LocationRecorded } from '../tracking/events.ts';

/**
 * A shared driver-positions projection (Redis GEO): online drivers at their latest fix, with the
 * driver decider's state, serving `GET /v1/drivers/nearby` for every instance. Idempotent per driver.
 */
export interface DriverPositions {
  onDriverEvent(e: Recorded<DriverEvent>): Promise<unknown>;
  onLocation(e: Recorded<LocationRecorded>): Promise<unknown>;
  /** A batch of `driver-locations` events (one consumer read), in order: one round trip, not one per point. */
  onLocations(events: readonly Recorded[]): Promise<unknown>;
  /** Takes drivers whose last fix is too old off the map (GEO members have no TTL of their own). */
  sweepStale(now?: number): Promise<number>;
  /**
   * Drivers free at `when.now` by the driver decider's `isFree`, with a fix at most `when.freshnessMs`
   * old, within `radiusM` (domain/geo.ts metres), nearest first; coordinates as recorded.
   */
  nearby(
    at: LatLng,
    radiusM: number,
    limit: number,
    when?: { now?: number; freshnessMs?: number },
  ): Promise<{ driverId: string; lat: number; lng: number; distanceM: number }[]>;
  close(): Promise<void>;
}
