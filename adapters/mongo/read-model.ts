import { MongoClient, MongoServerError, type Collection, type Db } from 'mongodb';
import type { RideDocument, RideReadModel, RideTrackPoints, TrackPoint } from '../../domain/ports/read-model.ts';
import { FINAL_STATUSES } from '../../domain/ride/state.ts';

export interface MongoReadModelOptions {
  readonly url: string;
  /** Default: the database named in the URL, else `ridecast`. */
  readonly dbName?: string;
  /**
   * How long a trip's GPS points are kept after the log recorded them (TTL index on `loggedAtDate`).
   * Default 30 days. Changing it on an existing deployment updates the index in place (collMod).
   */
  readonly trackRetentionSeconds?: number;
  /** Use this client instead of opening one (it is then not closed by `close()`). */
  readonly client?: MongoClient;
}

export type MongoReadModel = RideReadModel & {
  /** Drops the whole database (tests). */
  dropDatabase(): Promise<void>;
};

/** `rides`: one document per ride, `_id` = rideId, then the ride as the decider folds it (the projector writes it). */
type RideRow = { _id: string } & Record<string, unknown>;
/** `ride_tracks`: one document per point, unique on (rideId, recordedAt). */
interface TrackRow {
  rideId: string;
  lat: number;
  lng: number;
  recordedAt: number;
  eventId: string;
  loggedAt: number;
  /** `loggedAt` as a BSON date: what the TTL index expires on. */
  loggedAtDate: Date;
}

const DUPLICATE_KEY = 11000;
const INDEX_OPTIONS_CONFLICT = 85;
const DEFAULT_TRACK_RETENTION_S = 30 * 24 * 3600;
const TTL_INDEX = 'ttl_loggedAtDate';

const isDuplicateKey = (err: unknown) => err instanceof MongoServerError && err.code === DUPLICATE_KEY;

/** Every write error of an unordered insertMany is a duplicate key: the batch is done, duplicates dropped. */
function onlyDuplicates(err: unknown): boolean {
  if (!(err instanceof MongoServerError)) return false;
  const writeErrors = (err as { writeErrors?: { code: number } | { code: number }[] }).writeErrors;
  if (writeErrors === undefined) return err.code === DUPLICATE_KEY;
  const list = Array.isArray(writeErrors) ? writeErrors : [writeErrors];
  return list.length > 0 && list.every((e) => e.code === DUPLICATE_KEY) && !(err as { err?: unknown }).err;
}

/**
 * The rides read model on MongoDB (READ_MODEL=mongo). Writers only move a ride forward: `save` is a
 * conditional upsert on `version`, so a stale or redelivered document never overwrites a newer one,
 * whichever instance writes it. Indexes are created on first use.
 */
export function getMongoReadModel(options: MongoReadModelOptions): MongoReadModel {
  const ownClient = !options.client;
  const client = options.client ?? new MongoClient(options.url, { appName: 'ridecast' });
  const db: Db = client.db(options.dbName);
  const rides: Collection<RideRow> = db.collection<RideRow>('rides');
  const tracks: Collection<TrackRow> = db.collection<TrackRow>('ride_tracks');
  const retention = options.trackRetentionSeconds ?? DEFAULT_TRACK_RETENTION_S;

  let ready: Promise<void> | null = null;
  const init = () =>
    (ready ??= (async () => {
      await client.connect(); // one connection attempt, so an unreachable server fails with its own error
      await Promise.all([
        rides.createIndex({ riderId: 1 }, { name: 'riderId' }),
        rides.createIndex({ driverId: 1 }, { name: 'driverId' }),
        rides.createIndex({ status: 1 }, { name: 'status' }),
        tracks.createIndex({ rideId: 1, recordedAt: 1 }, { name: 'rideId_recordedAt', unique: true }),
        ensureTtlIndex(),
      ]);
    })().catch((err) => {
      ready = null; // try again on the next call (the server may come back)
      throw err;
    }));

  /** Rows of every ride's points, one unordered insertMany: a duplicate (same ride and device time) is dropped by the unique index, the rest go in. */
  async function insertTracks(list: readonly RideTrackPoints[]): Promise<void> {
    const rows: TrackRow[] = [];
    for (const { rideId, points } of list)
      for (const p of points) rows.push({ rideId, lat: p.lat, lng: p.lng, recordedAt: p.recordedAt, eventId: p.eventId, loggedAt: p.loggedAt, loggedAtDate: new Date(p.loggedAt) });
    if (rows.length === 0) return;
    await init();
    try {
      await tracks.insertMany(rows, { ordered: false });
    } catch (err) {
      if (!onlyDuplicates(err)) throw err;
    }
  }

  async function ensureTtlIndex(): Promise<void> {
    try {
      await tracks.createIndex({ loggedAtDate: 1 }, { name: TTL_INDEX, expireAfterSeconds: retention });
    } catch (err) {
      if (!(err instanceof MongoServerError) || err.code !== INDEX_OPTIONS_CONFLICT) throw err;
      // The retention setting changed since the index was made: adjust it in place.
      await db.command({ collMod: tracks.collectionName, index: { name: TTL_INDEX, expireAfterSeconds: retention } });
    }
  }

  const toDoc = (row: RideRow | null): RideDocument | null => {
    if (!row) return null;
    const { _id: _ignored, ...doc } = row;
    return doc as unknown as RideDocument;
  };

  return {
    async get(rideId) {
      await init();
      return toDoc(await rides.findOne({ _id: rideId }));
    },

    async save(doc) {
      await init();
      const filter = { _id: doc.rideId, version: { $lt: doc.version } };
      const replacement = { ...doc } as Record<string, unknown>;
      try {
        // Matches only an older stored version; no document at all → insert.
        await rides.replaceOne(filter, replacement, { upsert: true });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // The document exists: either it is newer (stale save, nothing to do) or another writer
        // inserted an older version between our match and our insert. Retry without upsert.
        await rides.replaceOne(filter, replacement);
      }
    },

    async active() {
      await init();
      const rows = await rides.find({ status: { $nin: [...FINAL_STATUSES] } }).toArray();
      return rows.map((r) => toDoc(r)!);
    },

    async addTrackPoints(rideId, points) {
      await insertTracks([{ rideId, points }]);
    },
    /** A consumer batch's points of every ride in one unordered insertMany (one bulk write per batch). */
    async addTracks(list) {
      await insertTracks(list);
    },

    async track(rideId) {
      await init();
      const rows = await tracks.find({ rideId }, { sort: { recordedAt: 1 } }).toArray();
      return rows.map(
        (r): TrackPoint => ({ lat: r.lat, lng: r.lng, recordedAt: r.recordedAt, eventId: r.eventId, loggedAt: r.loggedAt }),
      );
    },

    async clear() {
      await init();
      await Promise.all([rides.deleteMany({}), tracks.deleteMany({})]);
    },

    async dropDatabase() {
      await db.dropDatabase();
      ready = null;
    },

    async close() {
      if (ownClient) await client.close();
    },
  };
}
