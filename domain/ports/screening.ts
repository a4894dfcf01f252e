import type { GpsPoint } from '../tracking/point.ts';

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
}
