import type { LatLng } from '../geo.ts';
import type { RideStatus } from '../ride/state.ts';

/** What an operator sees on `{"type":"subscribe","fleet":true}` before the live feed: every driver with a position, every active ride. */
export interface FleetSnapshot {
  readonly drivers: readonly { readonly driverId: string; readonly lat: number; readonly lng: number; readonly status: 'available' | 'on_trip' | 'offline' }[];
  readonly rides: readonly { readonly rideId: string; readonly status: RideStatus; readonly pickup: LatLng; readonly dropoff: LatLng; readonly driverId: string | null }[];
}

/** The inbound port for the operators' picture of the fleet (the socket's fleet watch). */
export interface FleetQueries {
  snapshot(): Promise<FleetSnapshot>;
}
