/** `driver.location`: a driver's smoothed position, to the watchers of the ride they drive (and operators). */
export interface LocationMessage {
  type: 'driver.location';
  rideId: string | null;
  driverId: string;
  lat: number;
  lng: number;
  heading: number | null;
  speed: number | null;
  recordedAt: string;
  etaSeconds: number | null;
  eventId: string;
}
