import type { RideReadModel, TrackPoint } from '../../domain/ports/read-model.ts';
import { Cluster } from 'ioredis';
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

/**
 * Several rides' points in one call (one Redis, where a script may name keys of any slot). KEYS: the
 * rides' hashes; ARGV: retention, then each ride's field count, then each ride's (time, point) pairs.
 */
const ADD_MANY_LUA = `
local at = #KEYS + 2
for k = 1, #KEYS do
  local n = tonumber(ARGV[k + 1])
  for i = at, at + n - 1, 2 do redis.call('HSETNX', KEYS[k], ARGV[i], ARGV[i + 1]) end
  redis.call('PEXPIRE', KEYS[k], ARGV[1])
  at = at + n
end
return #KEYS`;

type WithScripts = RedisClient & {
  ridecastTrackAdd(key: string, retention: number, ...fields: (string | number)[]): Promise<number>;
  ridecastTracksAdd(...args: (string | number)[]): Promise<number>;
};

export type TrackStore = Pick<RideReadModel, 'addTrackPoints' | 'addTracks' | 'track'> & { close(): Promise<void> };

/**
 * Trip tracks in Redis, shared by every instance: written by whichever instance owns the driver's
 * GPS shard, read by any (the fare at completion, resume, `GET …/track`). Idempotent per device time.
 */
export function getRedisTracks(o: RedisTracksOptions): TrackStore {
  const redis = openFailFast(o) as WithScripts;
  redis.defineCommand('ridecastTrackAdd', { numberOfKeys: 1, lua: ADD_LUA });
  redis.defineCommand('ridecastTracksAdd', { lua: ADD_MANY_LUA });
  const clustered = redis instanceof Cluster;
  const key = (rideId: string) => `${o.prefix}{track:${rideId}}`;
  async function addTrackPoints(rideId: string, points: readonly TrackPoint[]): Promise<void> {
    if (points.length === 0) return;
    const fields: (string | number)[] = [];
    for (const p of points) fields.push(p.recordedAt, JSON.stringify(p));
    await redis.ridecastTrackAdd(key(rideId), o.retentionMs, ...fields);
  }
  return {
    addTrackPoints,
    // A batch's rides in one script call on one Redis (on the e2e bench, one call per ride was one
    // Lua call per GPS point). On a cluster a ride's hash may sit on any master: one script per ride,
    // issued in one tick, so one auto-pipelined write per master.
    async addTracks(list) {
      const rides = list.filter((t) => t.points.length > 0);
      if (clustered || rides.length < 2) return void (await Promise.all(rides.map((t) => addTrackPoints(t.rideId, t.points))));
      const keys: string[] = [];
      const counts: number[] = [];
      const fields: (string | number)[] = [];
      for (const t of rides) {
        keys.push(key(t.rideId));
        counts.push(t.points.length * 2);
        for (const p of t.points) fields.push(p.recordedAt, JSON.stringify(p));
      }
      await redis.ridecastTracksAdd(keys.length, ...keys, o.retentionMs, ...counts, ...fields);
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
