import type { Actor } from '../actor.ts';
import type { Rejection } from '../tracking/clean.ts';
import type { GpsPoint } from '../tracking/point.ts';

/** What a location batch came to: screened points are refused one by one, with a reason each. */
export interface IngestResult {
  readonly accepted: number;
  readonly rejected: number;
  readonly rejections: readonly Rejection[];
}

/** The inbound port a driver's app drives (HTTP `/v1/drivers/me/…` and the socket's `location` message). */
export interface DriverCommands {
  /** Goes online or offline; answers the driver's state after it (a driver on a trip stays on it). */
  setAvailability(driver: Actor, available: boolean): Promise<{ readonly driverId: string; readonly available: boolean; readonly rideId: string | null }>;
  /** Screens and records GPS points, the same for HTTP and WebSocket; 429 TOO_MANY_POINTS past the driver's rate. */
  ingestLocations(driver: Actor, points: readonly GpsPoint[]): Promise<IngestResult>;
}
