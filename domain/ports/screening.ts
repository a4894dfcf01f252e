import type { Event } from './event-log.ts';
import type { GpsPoint } from '../tracking/point.ts';

/**
 * What a compare-and-append answered: the events were appended and the points added (`appended`,
 * the window's version after it), or nothing was written because the window had moved on from the
 * version the caller screened against: then it carries what `read(driverId, expected)` would have.
 */
export type ScreenedAppend =
  | { readonly appended: true; readonly version: number }
  | { readonly appended: false; readonly version: number; readonly points: GpsPoint[]; readonly full: boolean };

/**
 * Where a driver's screening neighbours live when requests of one driver may land on any instance:
 * the points accepted lately (append order, the last `RECENT_POINTS_KEPT`) and a version that moves
 * with every write, so an instance can keep a copy and only read what other instances added since.
 */
export interface ScreeningStore {
  /**
   * The store's version, and the points added after version `since` (`full: false`), or every
   * kept point (`full: true`) when `since` is 0, unknown or too far behind. One round trip.
   */
  read(driverId: string, since: number): Promise<{ version: number; points: GpsPoint[]; full: boolean }>;
  /** Adds accepted points; returns the version after the write. */
  add(driverId: string, points: readonly GpsPoint[]): Promise<number>;
  /**
   * Where the window lives beside the driver's GPS stream (Redis, same hash slot): if the window is
   * still at version `expected`, appends `events` to the driver's GPS stream and adds `points` to the
   * window, atomically; else writes nothing and answers with what was added since. One round trip
   * for screening and append together. With no `points` it only checks the version. Absent where
   * the log is elsewhere (Kafka): then read, append and add go one after the other.
   */
  appendIfAt?(driverId: string, expected: number, points: readonly GpsPoint[], events: readonly Event[]): Promise<ScreenedAppend>;
}
