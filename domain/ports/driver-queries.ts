/** A free driver near a point, nearest first. */
export interface NearbyDriver {
  readonly driverId: string;
  readonly lat: number;
  readonly lng: number;
  readonly distanceMeters: number;
}

/** The inbound port for `GET /v1/drivers/nearby`: free, recently seen drivers within a radius. */
export interface DriverQueries {
  nearby(q: { readonly lat: number; readonly lng: number; readonly radiusMeters: number; readonly limit: number }): Promise<NearbyDriver[]>;
}
