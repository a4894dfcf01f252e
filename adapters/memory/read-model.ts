import { systemClock, type Clock } from '../../domain/ports/clock.ts';
import type { RideDocument, RideReadModel, TrackPoint } from '../../domain/ports/read-model.ts';
import { FINAL_STATUSES } from '../../domain/ride/state.ts';

export interface InMemoryReadModelOptions {
  /** A finished trip's track is kept this long after the trip ends (default 24 h), then dropped. */
  readonly trackRetentionMs?: number;
  /** Dates a ride's end, from which its track's retention counts (the service passes its own). */
  readonly clock?: Clock;
}

/**
 * A trip's points column by column (one typed array per field, doubled as it grows) rather than an
 * object and a map entry per point: a rebuild of a city's day holds a million of them.
 */
interface Track {
  size: number;
  lat: Float64Array;
  lng: Float64Array;
  at: Float64Array;
  loggedAt: Float64Array;
  /**
   * Event ids as numbers: `<prefix>:<a>-<b>` (a Redis stream id, a Kafka partition-offset) is kept as
   * a and b, the prefix once per track; an id of another shape goes to `otherIds`. A string per point
   * was ~64 bytes of a rebuilt city's heap per point, and all of it old-space for the GC to mark.
   */
  idA: Float64Array;
  idB: Float64Array;
  idPrefix: string | null;
  otherIds: Map<number, string> | null;
  /** Newest device time held: a point after it cannot be a duplicate (the common case, no search). */
  newest: number;
}

const newTrack = (capacity = 16): Track => ({
  size: 0, lat: new Float64Array(capacity), lng: new Float64Array(capacity), at: new Float64Array(capacity), loggedAt: new Float64Array(capacity),
  idA: new Float64Array(capacity), idB: new Float64Array(capacity), idPrefix: null, otherIds: null, newest: -Infinity,
});

/** The canonical decimal integer in id[from, to) (no sign, no leading zero, safe), or -1. */
function digits(id: string, from: number, to: number): number {
  if (to <= from || to - from > 15 || (id.charCodeAt(from) === 48 && to - from > 1)) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = id.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** Stores point i's event id as two numbers when it reads back exactly as given (see Track). */
function storeId(t: Track, i: number, id: string): void {
  const colon = id.lastIndexOf(':');
  const dash = id.indexOf('-', colon + 1);
  if (t.idPrefix === null && colon >= 0) t.idPrefix = id.slice(0, colon);
  const a = dash < 0 ? -1 : digits(id, colon + 1, dash);
  const b = a < 0 ? -1 : digits(id, dash + 1, id.length);
  if (b >= 0 && colon === t.idPrefix!.length && id.startsWith(t.idPrefix!)) {
    t.idA[i] = a;
    t.idB[i] = b;
  } else {
    t.idA[i] = -1;
    (t.otherIds ??= new Map()).set(i, id);
  }
}

const idOf = (t: Track, i: number): string => (t.idA[i]! < 0 ? t.otherIds!.get(i)! : `${t.idPrefix}:${t.idA[i]}-${t.idB[i]}`);

function grown(a: Float64Array): Float64Array {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

function addPoint(t: Track, p: TrackPoint): void {
  // Keyed by device time: a duplicate point (a redelivery) keeps the first, never adds a second.
  if (p.recordedAt <= t.newest && t.at.subarray(0, t.size).includes(p.recordedAt)) return;
  if (t.size === t.at.length) {
    (t.lat = grown(t.lat)), (t.lng = grown(t.lng)), (t.at = grown(t.at)), (t.loggedAt = grown(t.loggedAt));
    (t.idA = grown(t.idA)), (t.idB = grown(t.idB));
  }
  const i = t.size++;
  t.lat[i] = p.lat;
  t.lng[i] = p.lng;
  t.at[i] = p.recordedAt;
  t.loggedAt[i] = p.loggedAt;
  storeId(t, i, p.eventId);
  if (p.recordedAt > t.newest) t.newest = p.recordedAt;
}

function pointsOf(t: Track | undefined): TrackPoint[] {
  if (!t) return [];
  const out: TrackPoint[] = new Array(t.size);
  for (let i = 0; i < t.size; i++) out[i] = { lat: t.lat[i]!, lng: t.lng[i]!, recordedAt: t.at[i]!, eventId: idOf(t, i), loggedAt: t.loggedAt[i]! };
  return out;
}

/** The embedded read model: ride documents and trip tracks in process memory. */
export function getInMemoryReadModel({ trackRetentionMs = 24 * 3600_000, clock = systemClock }: InMemoryReadModelOptions = {}): RideReadModel {
  const rides = new Map<string, RideDocument>();
  const tracks = new Map<string, Track>();
  /** When each finished ride ended, oldest first (Map keeps insertion order). */
  const ended = new Map<string, number>();

  function addTrackPoints(rideId: string, points: readonly TrackPoint[]): void {
    let track = tracks.get(rideId);
    if (!track) tracks.set(rideId, (track = newTrack()));
    for (const p of points) addPoint(track, p);
  }

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
      addTrackPoints(rideId, points);
    },
    async addTracks(list) {
      for (const { rideId, points } of list) addTrackPoints(rideId, points);
    },
    async track(rideId) {
      dropExpiredTracks();
      return pointsOf(tracks.get(rideId)).sort((a, b) => a.recordedAt - b.recordedAt);
    },
    async clear() {
      rides.clear();
      tracks.clear();
      ended.clear();
    },
    async close() {},
  };
}
