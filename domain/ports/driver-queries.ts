/** One driver as `nearby` lists them: where their last fix put them, and how far from the asked point. */
export interface NearbyDriver {
  readonly driverId: string;
  readonly lat: number;
  readonly lng: number;
  /** Great-circle metres (domain/geo.ts `distanceMeters`), rounded to the metre. */
  readonly distanceMeters: number;
}

/** The questions the adapters may ask about drivers (inbound port; src/app/nearby.ts answers it). */
export interface DriverQueries {
  /**
   * Drivers free now (the driver decider's `isFree`) with a fresh fix, within `radiusMeters` of a
   * point, nearest first, at most `limit`. The same answer on every transport.
   */
  nearby(q: { lat: number; lng: number; radiusMeters: number; limit: number }): Promise<NearbyDriver[]>;
}
