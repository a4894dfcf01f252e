// The Redis adapters on a real 3-master Redis Cluster (test/support/redis-cluster.ts): the same
// event-log contract as on one server, and the key layout spreading streams over the masters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opaque, type OpaqueLog } from './support/opaque-log.ts';
import { getRedisEventLog, type RedisEventLog } from '../adapters/redis/event-log.ts';
import { compareIds } from '../adapters/redis/scripts.ts';
import { getRedisStores } from '../adapters/redis/stores.ts';
import { getRedisScreeningStore } from '../adapters/redis/screening.ts';
import { streamLayout } from '../adapters/redis/layout.ts';
import { systemClock } from '../domain/ports/clock.ts';
import type { StreamName } from '../domain/ports/event-log.ts';
import { makeRedisGeoProjection } from '../projections/geo/redis-geo.ts';
import { eventLogContract } from './contract/event-log.contract.ts';
import { startRedisCluster, type RedisCluster } from './support/redis-cluster.ts';
import { waitFor } from './support/wait.ts';

let cluster: RedisCluster;
let counter = 0;
const quiet = { warn() {}, error() {} };

beforeAll(async () => {
  cluster = await startRedisCluster(3);
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

const makeLog = (prefix = `c${++counter}:`) =>
  opaque(getRedisEventLog({ clusterNodes: cluster.nodes, prefix, claimIdleMs: 300, blockMs: 1_000, locationShards: 8, logger: quiet }));

eventLogContract('redis cluster', async () => makeLog());

describe('redis cluster specifics', () => {
  it('spreads the streams over more than one master, and every append and read works across them', async () => {
    const prefix = `spread${process.pid}:`;
    const log = makeLog(prefix);
    const seen: string[] = [];
    const sub = await log.subscribe('drivers', { group: 'g', consumer: 'c1', handler: async (e) => void seen.push(e.metadata.key) });
    try {
      await log.append('rides', 'r_1', [{ type: 'RideRequested', data: {} }], { expectedVersion: 0 });
      await log.append('drivers', 'd_1', [{ type: 'DriverAvailabilityChanged', data: { available: true } }], { expectedVersion: 0 });
      await log.append('driver-locations', 'd_1', [{ type: 'LocationRecorded', data: { n: 1 } }, { type: 'LocationRecorded', data: { n: 2 } }]);
      for (let i = 2; i <= 16; i++) await log.append('driver-locations', `d_${i}`, [{ type: 'LocationRecorded', data: { n: i + 1 } }]);
      await waitFor(() => seen.includes('d_1'), 'the drivers event through the group reader');
      const perMaster = await cluster.keysPerMaster(`${prefix}*`);
      expect(perMaster.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect(perMaster.filter((n) => n > 0).length).toBeGreaterThan(1);
      expect((await log.readKey('rides', 'r_1')).map((e) => e.metadata.version)).toEqual([1]);
      // Merged over the shards by id: every point once, one driver's in order (drivers appended in the
      // same millisecond on two shards may come in either order, see README "Scaling out").
      const points = await log.read('driver-locations');
      expect(points.map((e) => (e.data as { n: number }).n).sort((x, y) => x - y)).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
      expect(points.filter((e) => e.metadata.key === 'd_1').map((e) => (e.data as { n: number }).n)).toEqual([1, 2]);
      expect(points.map((e) => e.metadata.position)).toEqual(points.map((e) => e.metadata.position).sort(compareIds));
      // The GPS shards alone spread over the masters: no single master carries every point.
      const gpsPerMaster = await cluster.keysPerMaster(`${prefix}{driver-locations:*`);
      expect(gpsPerMaster.filter((n) => n > 0).length, `GPS shard keys per master ${gpsPerMaster}`).toBeGreaterThan(1);
      expect(await log.ping()).toBe(true);
    } finally {
      await sub.close();
      await log.close();
    }
  });

  it('claims and accounts run their scripts on the cluster', async () => {
    const stores = getRedisStores({ clusterNodes: cluster.nodes }, `st${process.pid}:`, quiet);
    try {
      expect(await stores.claims.claim('ride:r_1', 'a', 5_000)).toBeNull();
      expect(await stores.claims.claim('ride:r_1', 'b', 5_000)).toBe('a');
      await stores.claims.release('ride:r_1', 'a');
      expect(await stores.claims.claim('ride:r_1', 'c', 5_000)).toBeNull(); // released: free again
      await stores.users.create({ userId: 'u_1', username: 'ana', role: 'rider', passwordHash: 'x' });
      await expect(stores.users.create({ userId: 'u_2', username: 'ana', role: 'rider', passwordHash: 'y' })).rejects.toMatchObject({ code: 'USERNAME_TAKEN' });
      expect((await stores.users.findByUsername('ana'))?.userId).toBe('u_1');
    } finally {
      await stores.close();
    }
  });

  it('keeps the GEO projection of available drivers on the cluster', async () => {
    const geo = makeRedisGeoProjection({ clusterNodes: cluster.nodes, key: `geo${process.pid}:{geo}:drivers` });
    const at = Date.now();
    const meta = (stream: StreamName, version: number) => ({ eventId: `${stream}:${version}`, stream, position: `${at}-${version}`, key: 'd_1', version, recordedAtMs: at });
    try {
      await geo.onDriverEvent({ type: 'DriverAvailabilityChanged', data: { driverId: 'd_1', available: true, at }, metadata: meta('drivers', 1) });
      await geo.onLocation({ type: 'LocationRecorded', data: { driverId: 'd_1', lat: 38.72, lng: -9.14, recordedAt: at, heading: null, speed: null, accuracy: null, rideId: null, late: false }, metadata: meta('driver-locations', 0) });
      expect((await geo.nearby({ lat: 38.72, lng: -9.14 }, 1_000, 5)).map((d) => d.driverId)).toEqual(['d_1']);
      await geo.clear();
      expect(await geo.count()).toBe(0);
    } finally {
      await geo.close();
    }
  });

  it('screens beside the GPS stream: compare-and-append is one script in the slot of the driver\'s shard', async () => {
    const prefix = `scr${process.pid}:`;
    const log = makeLog(prefix);
    const screening = getRedisScreeningStore({ clusterNodes: cluster.nodes, prefix, kept: 256, log: { layout: streamLayout(prefix, 8), clock: systemClock } });
    const point = (i: number) => ({ lat: 38.72 + i * 0.0001, lng: -9.14, recordedAt: 1_000_000 + i * 1_000, heading: null, speed: null, accuracy: null });
    const event = (i: number) => ({ type: 'LocationRecorded', data: { driverId: 'd_7', n: i } });
    try {
      for (const i of [1, 2, 3]) expect(await screening.appendIfAt!('d_7', i - 1, [point(i)], [event(i)])).toEqual({ appended: true, version: i });
      // Behind by one: nothing written, and the point it missed comes back.
      expect(await screening.appendIfAt!('d_7', 2, [point(9)], [event(9)])).toEqual({ appended: false, version: 3, points: [point(3)], full: false });
      expect(await screening.appendIfAt!('d_7', 3, [], [])).toEqual({ appended: true, version: 3 });
      expect((await screening.read('d_7', 0)).points).toEqual([point(1), point(2), point(3)]);
      const recorded = (await log.read('driver-locations')).filter((e) => e.metadata.key === 'd_7');
      expect(recorded.map((e) => (e.data as { n: number }).n)).toEqual([1, 2, 3]);
    } finally {
      await screening.close();
      await log.close();
    }
  });
});
