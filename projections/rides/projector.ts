import type { Recorded } from '../../domain/ports/event-log.ts';
import type { RideDocument, RideReadModel } from '../../domain/ports/read-model.ts';
import type { RideEvent } from '../../domain/ride/index.ts';
import type { LocationRecorded } from '../../domain/tracking/events.ts';
import { evolveRideView, type RideView } from './view.ts';

const TRACKED: ReadonlySet<string> = new Set(['accepted', 'arrived', 'in_progress']);

/**
 * Folds the log into a rides read model: ride documents from `rides`, trip tracks from
 * `driver-locations`. Never throws on a recorded event; stale ones are skipped and counted.
 */
export function makeRideProjector(readModel: RideReadModel, onStale: () => void = () => undefined) {
  return {
    async onRideEvent(e: Recorded<RideEvent>): Promise<void> {
      const current = (await readModel.get(e.metadata.key)) as RideView | null;
      const next = evolveRideView(current, e);
      if (!next || next === current) return onStale();
      await readModel.save(next as unknown as RideDocument);
    },
    onLocation: (e: Recorded<LocationRecorded>): Promise<void> => onLocations([e]),
    onLocations,
  };

  /**
   * A batch of points (one consumer read): one lookup and one track write per ride, not per point.
   * A point joins its ride's track only while the ride is being tracked and is the ride's driver's.
   */
  async function onLocations(events: readonly Recorded<LocationRecorded>[]): Promise<void> {
    const byRide = new Map<string, Recorded<LocationRecorded>[]>();
    for (const e of events) {
      const rideId = e.data.rideId;
      if (!rideId) continue;
      const list = byRide.get(rideId);
      if (list) list.push(e);
      else byRide.set(rideId, [e]);
    }
    for (const [rideId, list] of byRide) {
      const ride = await readModel.get(rideId);
      if (!ride || !TRACKED.has(ride.status)) continue;
      const track = list
        .filter((e) => e.data.driverId === ride.driverId)
        .map(({ data: { lat, lng, recordedAt }, metadata }) => ({ lat, lng, recordedAt, eventId: metadata.eventId, loggedAt: metadata.recordedAtMs }));
      if (track.length > 0) await readModel.addTrackPoints(rideId, track);
    }
  }
}
