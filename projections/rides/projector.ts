import type { Recorded } from '../../domain/ports/event-log.ts';
import type { RideReadModel, RideTrackPoints, TrackPoint } from '../../domain/ports/read-model.ts';
import { evolve, initialState, type RideEvent, type RideState } from '../../domain/ride/index.ts';
import type { LocationRecorded } from '../../domain/tracking/events.ts';

const TRACKED: ReadonlySet<string> = new Set(['accepted', 'arrived', 'in_progress']);

const withVersion = (state: RideState, version: number): RideState => (state.status === 'none' ? state : { ...state, version });

/**
 * Folds the log into a rides read model: the ride decider's state per ride from `rides`, trip tracks
 * from `driver-locations`. Never throws on a recorded event; stale ones are skipped and counted.
 * `history` (the ride's events from the log) mends a gap: a consumer group that spreads one ride's
 * events over several members may hand over version 5 before version 4, and folding 5 onto 3 would
 * lose 4 for good; the ride is folded again from the log instead.
 */
export function makeRideProjector(
  readModel: RideReadModel,
  onStale: () => void = () => undefined,
  history?: (rideId: string) => Promise<readonly Recorded<RideEvent>[]>,
) {
  return {
    onRideEvent: (e: Recorded<RideEvent>): Promise<void> => onRideEvents([e]),
    onRideEvents,
    onLocation: (e: Recorded<LocationRecorded>): Promise<void> => onLocations([e]),
    onLocations,
  };

  /**
   * A batch of ride events (a consumer read, a rebuild page): per ride, one lookup, the events folded
   * in order in memory, one save; rides are independent, so they go to the read model together.
   */
  async function onRideEvents(events: readonly Recorded<RideEvent>[]): Promise<void> {
    const byRide = new Map<string, Recorded<RideEvent>[]>();
    for (const e of events) {
      const list = byRide.get(e.metadata.key);
      if (list) list.push(e);
      else byRide.set(e.metadata.key, [e]);
    }
    await Promise.all([...byRide].map(([rideId, list]) => foldRide(rideId, list)));
  }

  async function foldRide(rideId: string, list: readonly Recorded<RideEvent>[]): Promise<void> {
    let current: RideState = (await readModel.get(rideId)) ?? initialState();
    let changed = false;
    for (const e of list) {
      const version = current.status === 'none' ? 0 : current.version;
      if (current.status !== 'none' && e.metadata.version <= version) {
        onStale();
        continue;
      }
      let next: RideState;
      if (e.metadata.version === version + 1) next = evolve(current, e);
      else if (history) next = (await history(rideId)).reduce(evolve, initialState());
      // No log to mend the gap from: fold what arrived, and keep the log's version so redeliveries stay stale.
      else next = withVersion(evolve(current, e), e.metadata.version);
      if (next.status === 'none') {
        onStale();
        continue;
      }
      current = next;
      changed = true;
    }
    if (changed && current.status !== 'none') await readModel.save(current);
  }

  /**
   * A batch of points (one consumer read): one lookup and one track write per ride, not per point.
   * A point joins its ride's track only while the ride is being tracked and is the ride's driver's.
   */
  async function onLocations(events: readonly Recorded<LocationRecorded>[]): Promise<void> {
    let byRide: Map<string, Recorded<LocationRecorded>[]> | undefined;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const rideId = e.data.rideId;
      if (!rideId) continue;
      byRide ??= new Map();
      const list = byRide.get(rideId);
      if (list) list.push(e);
      else byRide.set(rideId, [e]);
    }
    // Most points are of drivers on no ride: nothing to look up, nothing to write.
    if (!byRide) return;
    // The rides are read side by side (a batch of points from 100 rides waited for 100 sequential
    // reads), then every ride's new points go in one write: one bulk write per batch.
    const tracks = await Promise.all([...byRide].map(([rideId, list]) => trackOf(rideId, list)));
    const toWrite = tracks.filter((t): t is RideTrackPoints => t !== null);
    if (toWrite.length > 0) await readModel.addTracks(toWrite);
  }

  /** The points of a batch that join a ride's track, or null when the ride is not being tracked. */
  async function trackOf(rideId: string, list: readonly Recorded<LocationRecorded>[]): Promise<RideTrackPoints | null> {
    const ride = await readModel.get(rideId);
    if (!ride || !TRACKED.has(ride.status)) return null;
    // One pass, no intermediate arrays: a rebuild runs this for most of a million points.
    const points: TrackPoint[] = [];
    for (const { data, metadata } of list) {
      if (data.driverId === ride.driverId) points.push({ lat: data.lat, lng: data.lng, recordedAt: data.recordedAt, eventId: metadata.eventId, loggedAt: metadata.recordedAtMs });
    }
    return points.length > 0 ? { rideId, points } : null;
  }
}
