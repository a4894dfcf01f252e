import type { DriverEvent } from '../domain/driver/index.ts';
import { systemClock, type Clock } from '../domain/ports/clock.ts';
import type { EventLog, EventsOf, Recorded, StreamName } from '../domain/ports/event-log.ts';
import type { RideReadModel } from '../domain/ports/read-model.ts';
import type { LocationRecorded } from '../domain/tracking/events.ts';
import { makeRideProjector } from './rides/projector.ts';

export interface RebuildProgress {
  /** Events handed to the projection so far. */
  readonly events: number;
  /** Average since the start. */
  readonly eventsPerSecond: number;
  readonly elapsedMs: number;
  /** The last position replayed on each stream (absent: nothing read from it yet). */
  readonly positions: Partial<Record<StreamName, string>>;
  /** True on the last report. */
  readonly done: boolean;
}

export interface RebuildOptions {
  readonly onProgress?: (p: RebuildProgress) => void;
  /** Events per `log.read` page. Default 1000. */
  readonly pageSize?: number;
  /** Report at most this often (plus a final report). Default 1000 ms; 0 reports after every page. */
  readonly progressEveryMs?: number;
  /** Times the progress reports. Default the system clock. */
  readonly clock?: Clock;
}

export interface ReplayCounts {
  readonly events: number;
  readonly perStream: Partial<Record<StreamName, number>>;
  readonly positions: Partial<Record<StreamName, string>>;
  readonly elapsedMs: number;
}

interface Cursor {
  readonly stream: StreamName;
  after: string | undefined;
  buffer: Recorded[];
  next: number;
  exhausted: boolean;
  /** The page after `buffer`, asked for as soon as `buffer` arrived: reading overlaps folding. */
  ahead: Promise<Recorded[]> | null;
  /** Events of this stream handed over, and the last one's position (kept here, not in a record keyed by stream name, per event). */
  count: number;
  last: string | undefined;
}

/**
 * Replays several streams from their oldest retained event, paging with positions, merged into one
 * sequence by the time the log recorded each event (ties: in the order `streams` lists them).
 * That is the order live consumers saw them in, as near as the log can tell: a projection that
 * reads across streams (a trip's points are kept only while its ride is under way) needs it.
 */
export async function replayMerged(
  log: EventLog,
  streams: readonly StreamName[],
  handle: (e: Recorded) => Promise<void>,
  options: RebuildOptions = {},
): Promise<ReplayCounts> {
  return replayMergedBatches(
    log,
    streams,
    async (events) => {
      for (const e of events) await handle(e);
    },
    options,
  );
}

/**
 * `replayMerged` handing the merged sequence over in batches (at most `pageSize` events, in merged
 * order) so a projection folds a page with one await, not one per event. Each stream holds at most
 * two pages at a time (the one being merged and the one being read), so memory does not grow with
 * the log.
 */
export async function replayMergedBatches(
  log: EventLog,
  streams: readonly StreamName[],
  handleBatch: (events: readonly Recorded[]) => Promise<void>,
  { onProgress, pageSize = 1_000, progressEveryMs = 1_000, clock = systemClock }: RebuildOptions = {},
): Promise<ReplayCounts> {
  const started = clock.now();
  const cursors: Cursor[] = streams.map((stream) => ({ stream, after: undefined, buffer: [], next: 0, exhausted: false, ahead: null, count: 0, last: undefined }));
  let events = 0;
  let reportedAt = started;

  /** The last position handed over on each stream that had an event. */
  const positionsNow = (): Partial<Record<StreamName, string>> => {
    const positions: Partial<Record<StreamName, string>> = {};
    for (const c of cursors) if (c.last !== undefined) positions[c.stream] = c.last;
    return positions;
  };
  const report = (done: boolean) => {
    const elapsedMs = clock.now() - started;
    onProgress?.({ events, eventsPerSecond: elapsedMs > 0 ? Math.round((events * 1000) / elapsedMs) : events, elapsedMs, positions: positionsNow(), done });
  };
  const readAfter = (c: Cursor) => log.read(c.stream, { after: c.after, limit: pageSize });

  /** Makes sure the cursor's buffer holds its next event, unless the stream is done. */
  async function refill(c: Cursor): Promise<void> {
    if (c.next < c.buffer.length || c.exhausted) return;
    const page = await (c.ahead ?? readAfter(c));
    c.ahead = null;
    c.buffer = page;
    c.next = 0;
    if (page.length === 0) {
      c.exhausted = true;
      return;
    }
    c.after = page[page.length - 1]!.metadata.position;
    // A short page is the end for now: no read ahead; the next refill reads again to make sure.
    if (page.length >= pageSize) c.ahead = readAfter(c);
    if (progressEveryMs === 0 || clock.now() - reportedAt >= progressEveryMs) {
      reportedAt = clock.now();
      report(false);
    }
  }

  let batch: Recorded[] = [];
  for (;;) {
    for (const c of cursors) if (c.next >= c.buffer.length && !c.exhausted) await refill(c);
    let pick: Cursor | undefined;
    let pickAt = 0;
    for (const c of cursors) {
      if (c.next >= c.buffer.length) continue;
      const at = c.buffer[c.next]!.metadata.recordedAtMs;
      if (!pick || at < pickAt) (pick = c), (pickAt = at);
    }
    if (!pick) break;
    const e = pick.buffer[pick.next++]!;
    batch.push(e);
    events++;
    pick.count++;
    pick.last = e.metadata.position;
    if (batch.length >= pageSize) {
      await handleBatch(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await handleBatch(batch);
  report(true);
  const perStream: Partial<Record<StreamName, number>> = {};
  for (const c of cursors) if (c.count > 0) perStream[c.stream] = (perStream[c.stream] ?? 0) + c.count;
  return { events, perStream, positions: positionsNow(), elapsedMs: clock.now() - started };
}

/** Splits a merged batch into runs of one stream each, in order: a projection folds a run at once. */
export function runsOf(events: readonly Recorded[]): Recorded[][] {
  const runs: Recorded[][] = [];
  let run: Recorded[] = [];
  for (const e of events) {
    if (run.length > 0 && run[0]!.metadata.stream !== e.metadata.stream) (runs.push(run), (run = []));
    run.push(e);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** One handler per stream, each given that stream's events. */
export type StreamHandlers<S extends StreamName> = { readonly [K in S]: (e: Recorded<EventsOf<K>>) => Promise<unknown> };

/** One batch handler per stream, each given a run of that stream's events, in log order. */
export type StreamBatchHandlers<S extends StreamName> = { readonly [K in S]: (events: readonly Recorded<EventsOf<K>>[]) => Promise<unknown> };

/**
 * `replayMerged` with a handler per stream (in the order listed): each receives its stream's events
 * typed, since the event's own `metadata.stream` picks the handler.
 */
export function replayEach<S extends StreamName>(log: EventLog, handlers: StreamHandlers<S>, options?: RebuildOptions): Promise<ReplayCounts> {
  const byStream = handlers as unknown as Record<StreamName, (e: Recorded) => Promise<unknown>>;
  return replayMerged(log, Object.keys(handlers) as S[], async (e) => void (await byStream[e.metadata.stream](e)), options);
}

/** `replayEach` by runs: each stream's handler folds a run of consecutive events of its stream at once. */
export function replayEachBatch<S extends StreamName>(log: EventLog, handlers: StreamBatchHandlers<S>, options?: RebuildOptions): Promise<ReplayCounts> {
  const byStream = handlers as unknown as Record<StreamName, (events: readonly Recorded[]) => Promise<unknown>>;
  return replayMergedBatches(
    log,
    Object.keys(handlers) as S[],
    async (events) => {
      for (const run of runsOf(events)) await byStream[run[0]!.metadata.stream](run);
    },
    options,
  );
}

const isLocation = (e: Recorded): e is Recorded<LocationRecorded> => e.type === 'LocationRecorded';

export interface RideRebuildResult extends ReplayCounts {
  readonly rideEvents: number;
  readonly locations: number;
  /** Ride events the projector found already applied (should be 0 on a cleared model). */
  readonly stale: number;
}

/**
 * Rebuilds the rides read model from the log: clears it, then replays `rides` and
 * `driver-locations` through the same projector the live consumers use. Idempotent: running it
 * twice gives the same documents. Trip points older than the `driver-locations` retention are gone
 * from the log, so their tracks come back only as far as the log still holds them.
 */
export async function rebuildRideReadModel(log: EventLog, readModel: RideReadModel, options: RebuildOptions = {}): Promise<RideRebuildResult> {
  let stale = 0;
  const projector = makeRideProjector(readModel, () => void stale++);
  await readModel.clear();
  const counts = await replayEachBatch(
    log,
    {
      rides: (events) => projector.onRideEvents(events),
      'driver-locations': (events) => projector.onLocations(events.filter(isLocation)),
    },
    options,
  );
  return { ...counts, rideEvents: counts.perStream.rides ?? 0, locations: counts.perStream['driver-locations'] ?? 0, stale };
}

/** What a driver-positions projection offers a rebuild (the Redis GEO one does). */
export interface DriverPositionsProjection {
  clear(): Promise<void>;
  onDriverEvent(e: Recorded<DriverEvent>): Promise<unknown>;
  onLocation(e: Recorded<LocationRecorded>): Promise<unknown>;
  /** A batch of points in one round trip (the Redis GEO projection: one script call). */
  onLocations?(events: readonly Recorded<LocationRecorded>[]): Promise<unknown>;
  sweepStale?(): Promise<number>;
}

export interface GeoRebuildResult extends ReplayCounts {
  readonly driverEvents: number;
  readonly locations: number;
}

/**
 * Rebuilds the available-drivers map from `drivers` and `driver-locations`: clears it, replays,
 * then sweeps the drivers whose last fix is already stale.
 */
export async function rebuildDriverPositions(log: EventLog, geo: DriverPositionsProjection, options: RebuildOptions = {}): Promise<GeoRebuildResult> {
  await geo.clear();
  const counts = await replayEachBatch(
    log,
    {
      drivers: async (events) => {
        for (const e of events) await geo.onDriverEvent(e);
      },
      'driver-locations': async (events) => {
        const points = events.filter(isLocation);
        if (points.length === 0) return;
        if (geo.onLocations) await geo.onLocations(points);
        else for (const e of points) await geo.onLocation(e);
      },
    },
    options,
  );
  await geo.sweepStale?.();
  return { ...counts, driverEvents: counts.perStream.drivers ?? 0, locations: counts.perStream['driver-locations'] ?? 0 };
}
