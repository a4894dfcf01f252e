import type { Recorded } from '../../domain/ports/event-log.ts';
import type { TrackPoint } from '../../domain/ports/read-model.ts';
import { foldRide, rideStatusMessage, type Ride, type RideEvent } from '../../domain/ride/index.ts';

/** One message of a ride's story, with what replay needs to order it and to skip what a client saw. */
export interface StoryItem {
  /** When the log recorded it. */
  readonly at: number;
  readonly message: { type: string; eventId?: string; rideId?: string | null } & Record<string, unknown>;
  /** The ride version (ride events). */
  readonly version?: number;
  /** Device time (locations). */
  readonly deviceAt?: number;
  /** The ride as this event left it (ride events): who may see it from here on. */
  readonly ride?: Ride;
}

/**
 * A ride's story as a watcher sees it: its events (each with the ride it left) and the trip's
 * track, merged by the time the log recorded them. Locations are shown as the track has them: raw,
 * with no heading, speed or ETA. Pure: replay reads the log, this puts it in order.
 */
export function rideStory(history: readonly Recorded<RideEvent>[], track: readonly TrackPoint[]): StoryItem[] {
  const folded = foldRide(history);
  const items: StoryItem[] = folded.map(({ event, ride }) => ({
    at: event.metadata.recordedAtMs,
    message: rideStatusMessage(event, ride),
    version: event.metadata.version,
    ride,
  }));
  const driverAt = (at: number) => folded.filter((h) => h.event.metadata.recordedAtMs <= at).at(-1)?.ride.driverId ?? null;
  const rideId = history[0]?.metadata.key ?? null;
  for (const p of track) {
    items.push({
      at: p.loggedAt,
      deviceAt: p.recordedAt,
      message: {
        type: 'driver.location', rideId, driverId: driverAt(p.loggedAt), lat: p.lat, lng: p.lng, heading: null, speed: null,
        recordedAt: new Date(p.recordedAt).toISOString(), etaSeconds: null, eventId: p.eventId,
      },
    });
  }
  // Stable: within one millisecond ride events come first, and each stream keeps its own order.
  return items.sort((a, b) => a.at - b.at);
}
