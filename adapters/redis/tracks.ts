import type { RideReadModel, TrackPoint } from '../../domain/ports/read-model.ts';
import { openFailFast, type RedisClient, type RedisLocation } from './connection.ts';

export interface RedisTracksOptions extends RedisLocation {
  readonly prefix: string;
  /** A track is kept this long after its last point (TRACK_RETENTION_MS). */
  readonly retentionMs: number;
  readonly commandTimeoutMs?: number;
}

/** One hash per ride, field = device time: the first point of a device time stays (as the memory model keeps it). */
const ADD_LUA = `
for i = 2, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[1])`;

type WithScripts = RedisClient & { ridecastTrackAdd(key: string, retention: number, ...fields: (string | number)[]): Promise<number> };

export type TrackStore = Pick<RideReadModel, 'addTrackPoints' | 'addTracks' | 'track'> & { close(): Promise<void> };

/**
 * Trip tracks in Redis, shared by every instance: written by whichever instance owns the driver's
 * GPS shard, read by any (the fare at completion, resume, `GET …/track`). Idempotent per device time.
 */
export function getRedisTracks(o: RedisTracksOptions): TrackStore {
  const redis = openFailFast(o) as WithScripts;
  redis.defineCommand('ridecastTrackAdd', { numberOfKeys: 1, lua: ADD_LUA });
  const key = (rideId: string) => `${o.prefix}{track:${rideId}}`;
  async function addTrackPoints(rideId: string, points: readonly TrackPoint[]): Promise<void> {
    if (points.length === 0) return;
    const fields: (string | number)[] = [];
    for (const p of points) fields.push(p.recordedAt, JSON.stringify(p));
    await redis.ridecastTrackAdd(key(rideId), o.retentionMs, ...fields);
  }
  return {
    addTrackPoints,
    // One script per ride (a ride's hash may sit on any master), issued in one tick: one auto-pipelined write per master.
    async addTracks(list) {
      await Promise.all(list.map((t) => addTrackPoints(t.rideId, t.points)));
    },
    async track(rideId) {
      const values = await redis.hvals(key(rideId));
      return values.map((v) => JSON.parse(v) as TrackPoint).sort((a, b) => a.recordedAt - b.recordedAt);
    },
    async close() {
      if (redis.status === 'ready') await redis.quit().catch(() => undefined);
      redis.disconnect();
    },
  };
}
