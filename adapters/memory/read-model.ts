import { systemClock, type Clock } from '../../domain/ports/clock.ts';
import type { RideDocument, RideReadModel, TrackPoint } from '../../domain/ports/read-model.ts';
import { FINAL_STATUSES } from '../../domain/ride/state.ts';

export interface InMemoryReadModelOptions {
  /** A finished trip's track is kept this long after the trip ends (default 24 h), then dropped. */
  readonly trackRetentionMs?: number;
  /** Dates a ride's end, from which its track's retention counts (the service passes its own). */
  readonly clock?: Clock;
}

/** The embedded read model: ride documents and trip tracks in process memory. */
export function getInMemoryReadModel({ trackRetentionMs = 24 * 3600_000, clock = systemClock }: InMemoryReadModelOptions = {}): RideReadModel {
  const rides = new Map<string, RideDocument>();
  const tracks = new Map<string, Map<number, TrackPoint>>();
  /** When each finished ride ended, oldest first (Map keeps insertion order). */
  const ended = new Map<string, number>();

  // Cheap enough to run on every write: it stops at the first track still within retention.
  function dropExpiredTracks(): void {
    const cutoff = clock.now() - trackRetentionMs;
    for (const [rideId, at] of ended) {
      if (at > cutoff) break;
      tracks.delete(rideId);
      ended.delete(rideId);
    }
  }

  return {
    async get(rideId) {
      return rides.get(rideId) ?? null;
    },
    async save(doc) {
      const current = rides.get(doc.rideId);
      if (current && current.version >= doc.version) return;
      rides.set(doc.rideId, doc);
      if (FINAL_STATUSES.has(doc.status) && !ended.has(doc.rideId)) ended.set(doc.rideId, clock.now());
      dropExpiredTracks();
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
      dropExpiredTracks();
      return [...(tracks.get(rideId)?.values() ?? [])].sort((a, b) => a.recordedAt - b.recordedAt);
    },
    async clear() {
      rides.clear();
      tracks.clear();
      ended.clear();
    },
    async close() {},
  };
}
