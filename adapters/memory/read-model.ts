import type { RideDocument, RideReadModel, TrackPoint } from '../../domain/ports/read-model.ts';
import { FINAL_STATUSES } from '../../domain/ride/state.ts';

/** The embedded read model: ride documents and trip tracks in process memory. */
export function getInMemoryReadModel(): RideReadModel {
  const rides = new Map<string, RideDocument>();
  const tracks = new Map<string, Map<number, TrackPoint>>();
  return {
    async get(rideId) {
      return rides.get(rideId) ?? null;
    },
    async save(doc) {
      const current = rides.get(doc.rideId);
      if (!current || current.version < doc.version) rides.set(doc.rideId, doc);
    },
    async active() {
      return [...rides.values()].filter((r) => !FINAL_STATUSES.has(r.status));
    },
    async addTrackPoints(rideId, points) {
      let track = tracks.get(rideId);
      if (!track) tracks.set(rideId, (track = new Map()));
      // Keyed by device time: a duplicate point replaces itself instead of adding a second one.
      for (const p of points) if (!track.has(p.recordedAt)) track.set(p.recordedAt, p);
    },
    async track(rideId) {
      return [...(tracks.get(rideId)?.values() ?? [])].sort((a, b) => a.recordedAt - b.recordedAt);
    },
    async clear() {
      rides.clear();
      tracks.clear();
    },
    async close() {},
  };
}
