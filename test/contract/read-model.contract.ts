import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RideDocument, RideReadModel, TrackPoint } from '../../domain/ports/read-model.ts';
import type { RideStatus } from '../../domain/ride/state.ts';

/** Makes a read model for one test; the suite clears it first and closes it afterwards. */
export type MakeReadModel = () => Promise<RideReadModel>;

/** A ride as the decider folds it (the stored document is exactly that). */
const doc = (rideId: string, version: number, extra: Partial<RideDocument> = {}): RideDocument => ({
  rideId,
  riderId: `u_${rideId}`,
  driverId: version > 2 ? 'd_1' : null,
  status: 'requested',
  pickup: { lat: 52.52, lng: 13.405 },
  dropoff: { lat: 52.5, lng: 13.42 },
  offer: null,
  offers: [],
  withdrawn: [],
  passedBy: ['d_0'],
  offerEndedFor: null,
  rounds: 1,
  requestedAt: 1_000,
  acceptedAt: version > 2 ? 2_000 : null,
  arrivedAt: null,
  startedAt: null,
  completedAt: null,
  cancelledAt: null,
  distanceMeters: null,
  fare: null,
  payment: null,
  rating: { stars: 5, comment: null },
  version,
  ...extra,
});

/** Recent, so a TTL on the log time (MongoDB) keeps the points for the whole run. */
const LOGGED_AT = Date.now();

const point = (recordedAt: number, extra: Partial<TrackPoint> = {}): TrackPoint => ({
  lat: 52.5 + recordedAt / 1e7,
  lng: 13.4 + recordedAt / 1e7,
  recordedAt,
  eventId: `driver-locations:${recordedAt}`,
  loggedAt: LOGGED_AT + recordedAt,
  ...extra,
});

const byRideId = (docs: RideDocument[]) => [...docs].sort((a, b) => a.rideId.localeCompare(b.rideId));

/** The RideReadModel port's contract: run unchanged against every adapter (memory, MongoDB). */
export function readModelContract(name: string, make: MakeReadModel) {
  describe(`read model contract: ${name}`, () => {
    let rm: RideReadModel;
    beforeEach(async () => {
      rm = await make();
      await rm.clear();
    });
    afterEach(async () => {
      await rm.close();
    });

    it('stores a document and gives it back unchanged; unknown rides are null', async () => {
      const d = doc('r_1', 1);
      await rm.save(d);
      expect(await rm.get('r_1')).toEqual(d);
      expect(await rm.get('r_404')).toBeNull();
    });

    it('only moves a document forward', async () => {
      await rm.save(doc('r_1', 1));
      await rm.save(doc('r_1', 3, { status: 'accepted' }));
      expect(await rm.get('r_1')).toEqual(doc('r_1', 3, { status: 'accepted' }));
      await rm.save(doc('r_1', 4, { status: 'arrived' }));
      expect((await rm.get('r_1'))?.version).toBe(4);
    });

    it('ignores a stale save: an older or equal version changes nothing', async () => {
      await rm.save(doc('r_1', 5, { status: 'in_progress' }));
      await rm.save(doc('r_1', 2, { status: 'offered' }));
      await rm.save(doc('r_1', 5, { status: 'cancelled' }));
      expect(await rm.get('r_1')).toEqual(doc('r_1', 5, { status: 'in_progress' }));
    });

    it('ends at the newest version when saves race in any order', async () => {
      const versions = [7, 3, 9, 1, 5, 2, 10, 4, 8, 6];
      await Promise.all(versions.map((v) => rm.save(doc('r_race', v))));
      expect(await rm.get('r_race')).toEqual(doc('r_race', 10));
    });

    it('lists the unfinished rides as active', async () => {
      const statuses: RideStatus[] = ['requested', 'offered', 'accepted', 'arrived', 'in_progress', 'completed', 'cancelled', 'unmatched'];
      for (const [i, status] of statuses.entries()) await rm.save(doc(`r_${i}`, 1, { status }));
      const active = byRideId(await rm.active());
      expect(active.map((d) => d.status)).toEqual(['requested', 'offered', 'accepted', 'arrived', 'in_progress']);
      expect(active[0]).toEqual(doc('r_0', 1, { status: 'requested' }));
      // A ride that finishes leaves the list.
      await rm.save(doc('r_0', 2, { status: 'cancelled' }));
      expect((await rm.active()).map((d) => d.rideId)).not.toContain('r_0');
    });

    it('keeps a trip track in device-time order with duplicates dropped (the first one stays)', async () => {
      await rm.addTrackPoints('r_1', [point(30), point(10), point(20)]);
      await rm.addTrackPoints('r_1', [point(20, { eventId: 'again', lat: 1 }), point(15), point(40), point(15, { eventId: 'again' })]);
      await rm.addTrackPoints('r_1', []);
      await rm.addTrackPoints('r_2', [point(10, { eventId: 'other ride' })]);
      const track = await rm.track('r_1');
      expect(track.map((p) => p.recordedAt)).toEqual([10, 15, 20, 30, 40]);
      expect(track.find((p) => p.recordedAt === 20)?.eventId).toBe('driver-locations:20');
      expect(track.find((p) => p.recordedAt === 15)?.eventId).toBe('driver-locations:15');
      expect(track[0]).toEqual(point(10));
      expect(await rm.track('r_2')).toEqual([point(10, { eventId: 'other ride' })]);
      expect(await rm.track('r_404')).toEqual([]);
    });

    it('writes several rides\' points in one call, each ride as addTrackPoints keeps it', async () => {
      await rm.addTrackPoints('r_1', [point(10)]);
      await rm.addTracks([
        { rideId: 'r_1', points: [point(30), point(10, { eventId: 'again' }), point(20)] },
        { rideId: 'r_2', points: [point(5, { eventId: 'other ride' })] },
        { rideId: 'r_3', points: [] },
      ]);
      await rm.addTracks([]);
      expect((await rm.track('r_1')).map((p) => [p.recordedAt, p.eventId])).toEqual([
        [10, 'driver-locations:10'],
        [20, 'driver-locations:20'],
        [30, 'driver-locations:30'],
      ]);
      expect(await rm.track('r_2')).toEqual([point(5, { eventId: 'other ride' })]);
      expect(await rm.track('r_3')).toEqual([]);
    });

    it('keeps every point of a long track once, whatever the batch order', async () => {
      const points = Array.from({ length: 200 }, (_, i) => point(1_000 + i));
      const shuffled = [...points].sort((a, b) => ((a.recordedAt * 7919) % 200) - ((b.recordedAt * 7919) % 200));
      await Promise.all([rm.addTrackPoints('r_1', shuffled.slice(0, 120)), rm.addTrackPoints('r_1', shuffled.slice(80))]);
      expect((await rm.track('r_1')).map((p) => p.recordedAt)).toEqual(points.map((p) => p.recordedAt));
    });

    it('clears rides and tracks, and works again afterwards', async () => {
      await rm.save(doc('r_1', 3, { status: 'accepted' }));
      await rm.addTrackPoints('r_1', [point(1), point(2)]);
      await rm.clear();
      expect(await rm.get('r_1')).toBeNull();
      expect(await rm.active()).toEqual([]);
      expect(await rm.track('r_1')).toEqual([]);
      // After a clear a rebuild starts from version 1 again.
      await rm.save(doc('r_1', 1));
      await rm.addTrackPoints('r_1', [point(2)]);
      expect((await rm.get('r_1'))?.version).toBe(1);
      expect(await rm.track('r_1')).toHaveLength(1);
    });
  });
}
