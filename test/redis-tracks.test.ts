// Issue 15, session 7: trip tracks on Redis (partitioned GPS work with a memory read model). A batch
// of points for several rides is written with ONE script call on one Redis (it was one call per ride,
// so one Lua call per GPS point on the e2e bench); on a cluster, where rides' hashes sit on different
// masters, one per ride. Either way each ride's track is what addTrackPoints would have kept.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRedisTracks, type TrackStore } from '../adapters/redis/tracks.ts';
import type { TrackPoint } from '../domain/ports/read-model.ts';
import { startRedisCluster, type RedisCluster } from './support/redis-cluster.ts';
import { startRedis, type RedisServer } from './support/redis.ts';

const point = (recordedAt: number, extra: Partial<TrackPoint> = {}): TrackPoint => ({
  lat: 52.5 + recordedAt / 1e7,
  lng: 13.4 + recordedAt / 1e7,
  recordedAt,
  eventId: `driver-locations:${recordedAt}`,
  loggedAt: 1_800_000_000_000 + recordedAt,
  ...extra,
});

/** The same batch as the read-model contract's "several rides in one call", then what each ride holds. */
async function writeSeveral(tracks: TrackStore, prefix: string) {
  await tracks.addTrackPoints(`${prefix}r_1`, [point(10)]);
  await tracks.addTracks([
    { rideId: `${prefix}r_1`, points: [point(30), point(10, { eventId: 'again' }), point(20)] },
    { rideId: `${prefix}r_2`, points: [point(5, { eventId: 'other ride' })] },
    { rideId: `${prefix}r_3`, points: [] },
  ]);
  await tracks.addTracks([]);
  expect((await tracks.track(`${prefix}r_1`)).map((p) => [p.recordedAt, p.eventId])).toEqual([
    [10, 'driver-locations:10'],
    [20, 'driver-locations:20'],
    [30, 'driver-locations:30'],
  ]);
  expect(await tracks.track(`${prefix}r_2`)).toEqual([point(5, { eventId: 'other ride' })]);
  expect(await tracks.track(`${prefix}r_3`)).toEqual([]);
}

describe('trip tracks on one Redis', () => {
  let server: RedisServer;
  let plain: Redis;
  let tracks: TrackStore;
  beforeAll(async () => {
    server = await startRedis();
    plain = new Redis(server.url, { protocol: 2 });
    tracks = getRedisTracks({ url: server.url, prefix: 't1:', retentionMs: 60_000 });
  });
  afterAll(async () => {
    await tracks?.close();
    plain?.disconnect();
    await server?.stop();
  });

  it('keeps each ride\'s points as addTrackPoints does, first point of a device time stays', async () => {
    await writeSeveral(tracks, 'a');
  });

  it('writes a batch of several rides with one command, and every ride\'s hash expires after the retention', async () => {
    const monitor = new Redis(server.url);
    const seen: string[] = [];
    await monitor.monitor().then((m) => m.on('monitor', (_t: string, args: string[], source: string) => {
      if (!source.includes('lua')) seen.push(String(args[0]).toLowerCase());
    }));
    try {
      const rides = Array.from({ length: 20 }, (_, i) => ({ rideId: `b${i}`, points: [point(100 + i), point(200 + i)] }));
      await tracks.addTracks(rides);
      await plain.ping();
      expect(seen.filter((c) => c.startsWith('eval'))).toHaveLength(1);
      for (const r of rides) {
        expect((await tracks.track(r.rideId)).map((p) => p.recordedAt)).toEqual(r.points.map((p) => p.recordedAt));
        const ttl = await plain.pttl(`t1:{track:${r.rideId}}`);
        expect(ttl).toBeGreaterThan(50_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
      }
    } finally {
      monitor.disconnect();
    }
  });
});

describe('trip tracks on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let tracks: TrackStore;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    tracks = getRedisTracks({ clusterNodes: cluster.nodes, prefix: 't2:', retentionMs: 60_000 });
  }, 60_000);
  afterAll(async () => {
    await tracks?.close();
    await cluster?.stop();
  });

  it('keeps each ride\'s points though the rides\' hashes sit on different masters', async () => {
    await writeSeveral(tracks, 'c');
    const rides = Array.from({ length: 12 }, (_, i) => ({ rideId: `d${i}`, points: [point(300 + i)] }));
    await tracks.addTracks(rides);
    for (const r of rides) expect((await tracks.track(r.rideId)).map((p) => p.recordedAt)).toEqual([300 + Number(r.rideId.slice(1))]);
  });
});
