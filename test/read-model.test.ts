import { afterAll, describe, expect, it } from 'vitest';
import { foldRide, type RideEvent } from '../domain/ride/index.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import { getInMemoryReadModel } from '../adapters/memory/read-model.ts';
import { getMongoReadModel } from '../adapters/mongo/read-model.ts';
import { readModelContract } from './contract/read-model.contract.ts';

readModelContract('memory', async () => getInMemoryReadModel());

describe('memory read model: track retention on the injected clock', () => {
  it('drops a finished trip\'s track once TRACK_RETENTION_MS has passed on the clock it was given, not before', async () => {
    let now = 1_000_000;
    const rm = getInMemoryReadModel({ trackRetentionMs: 60_000, clock: { now: () => now } });
    const meta = (version: number) => ({ eventId: `rides:${version}`, key: 'r_1', version, recordedAtMs: now, stream: 'rides' });
    const history = [
      { type: 'RideRequested', data: { rideId: 'r_1', riderId: 'u_1', pickup: { lat: 1, lng: 1 }, dropoff: { lat: 1.01, lng: 1 }, at: now } },
      { type: 'RideCancelled', data: { rideId: 'r_1', by: 'rider', reason: null, at: now } },
    ].map((e, i) => ({ ...e, metadata: meta(i + 1) })) as unknown as Recorded<RideEvent>[];
    await rm.addTrackPoints('r_1', [{ lat: 1, lng: 1, recordedAt: now, eventId: 'driver-locations:1', loggedAt: now }]);
    for (const { ride } of foldRide(history)) await rm.save(ride);
    now += 59_999;
    await rm.save({ ...(await rm.get('r_1'))!, version: 3 });
    expect(await rm.track('r_1')).toHaveLength(1);
    now += 2;
    await rm.save({ ...(await rm.get('r_1'))!, version: 4 });
    expect(await rm.track('r_1')).toEqual([]);
  });
});

// MongoDB runs only against a server you point it at (none can be installed in this sandbox).
const url = process.env.MONGO_URL;
const SKIPPED = 'MongoDB read-model contract SKIPPED: MONGO_URL is not set (e.g. MONGO_URL=mongodb://127.0.0.1:27017 npx vitest run test/read-model.test.ts)';
if (!url) console.warn(SKIPPED);

describe.skipIf(!url)(url ? 'mongodb' : SKIPPED, () => {
  // A database of its own per run, dropped at the end.
  const dbName = `ridecast_test_${process.pid}_${Date.now()}`;
  readModelContract('mongodb', async () => getMongoReadModel({ url: url!, dbName, trackRetentionSeconds: 3600 }));
  afterAll(async () => {
    const rm = getMongoReadModel({ url: url!, dbName });
    await rm.dropDatabase();
    await rm.close();
  });
});
