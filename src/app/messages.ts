/**
 * The device time (ms) of a location message its maker knew as a number. A symbol key: JSON.stringify
 * leaves it out, so what a socket receives is unchanged, and the hub does not parse `recordedAt` back
 * per mark and per watcher. Messages that came as JSON (relayed, replayed) do not carry it.
 */
export const DEVICE_AT: unique symbol = Symbol('deviceAt');

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
  [DEVICE_AT]?: number;
}

/** A location message's device time in ms: carried, or parsed from `recordedAt`. */
export const deviceAtOf = (m: { readonly recordedAt: string; readonly [DEVICE_AT]?: number }): number => m[DEVICE_AT] ?? Date.parse(m.recordedAt);
