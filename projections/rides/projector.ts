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
    async onLocation(e: Recorded<LocationRecorded>): Promise<void> {
      const { rideId, lat, lng, recordedAt } = e.data;
      if (!rideId) return;
      const ride = await readModel.get(rideId);
      if (!ride || !TRACKED.has(ride.status) || ride.driverId !== e.data.driverId) return;
      await readModel.addTrackPoints(rideId, [{ lat, lng, recordedAt, eventId: e.metadata.eventId, loggedAt: e.metadata.recordedAtMs }]);
    },
  };
}
