import type { Event } from '../ports/event-log.ts';

/**
 * One accepted GPS point, raw as the device sent it (smoothing happens in the projection).
 * `rideId` is the ride the driver was on when the point arrived, if any; `late` marks a point older
 * than the driver's latest fix: it belongs in the track but must not move the driver back.
 */
export type LocationRecorded = Event<
  'LocationRecorded',
  {
    driverId: string;
    lat: number;
    lng: number;
    recordedAt: number;
    heading: number | null;
    speed: number | null;
    accuracy: number | null;
    rideId: string | null;
    late: boolean;
  }
>;

/** A driver crossed a named zone's border (airport, city centre). */
export type ZoneEntered = Event<'ZoneEntered', { driverId: string; zone: string; at: number }>;
export type ZoneExited = Event<'ZoneExited', { driverId: string; zone: string; at: number }>;

export type LocationEvent = LocationRecorded | ZoneEntered | ZoneExited;
