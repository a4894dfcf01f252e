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
  { onProgress, pageSize = 1_000, progressEveryMs = 1_000, clock = systemClock }: RebuildOptions = {},
): Promise<ReplayCounts> {
  const started = clock.now();
  const cursors: Cursor[] = streams.map((stream) => ({ stream, after: undefined, buffer: [], next: 0, exhausted: false }));
  const perStream: Partial<Record<StreamName, number>> = {};
  const positions: Partial<Record<StreamName, string>> = {};
  let events = 0;
  let reportedAt = started;

  const report = (done: boolean) => {
    const elapsedMs = clock.now() - started;
    onProgress?.({ events, eventsPerSecond: elapsedMs > 0 ? Math.round((events * 1000) / elapsedMs) : events, elapsedMs, positions: { ...positions }, done });
  };

  async function head(c: Cursor): Promise<Recorded | undefined> {
    if (c.next < c.buffer.length) return c.buffer[c.next];
    if (c.exhausted) return undefined;
    c.buffer = await log.read(c.stream, { after: c.after, limit: pageSize });
    c.next = 0;
    if (c.buffer.length === 0) {
      c.exhausted = true;
      return undefined;
    }
    c.after = c.buffer[c.buffer.length - 1]!.metadata.position;
    if (progressEveryMs === 0 || clock.now() - reportedAt >= progressEveryMs) {
      reportedAt = clock.now();
      report(false);
    }
    return c.buffer[0];
  }

  for (;;) {
    let pick: { c: Cursor; e: Recorded } | undefined;
    for (const c of cursors) {
      const e = await head(c);
      if (e && (!pick || e.metadata.recordedAtMs < pick.e.metadata.recordedAtMs)) pick = { c, e };
    }
    if (!pick) break;
    pick.c.next++;
    await handle(pick.e);
    events++;
    perStream[pick.c.stream] = (perStream[pick.c.stream] ?? 0) + 1;
    positions[pick.c.stream] = pick.e.metadata.position;
  }
  report(true);
  return { events, perStream, positions, elapsedMs: clock.now() - started };
}

/** One handler per stream, each given that stream's events. */
export type StreamHandlers<S extends StreamName> = { readonly [K in S]: (e: Recorded<EventsOf<K>>) => Promise<unknown> };

/**
 * `replayMerged` with a handler per stream (in the order listed): each receives its stream's events
 * typed, since the event's own `metadata.stream` picks the handler.
 */
export function replayEach<S extends StreamName>(log: EventLog, handlers: StreamHandlers<S>, options?: RebuildOptions): Promise<ReplayCounts> {
  const byStream = handlers as unknown as Record<StreamName, (e: Recorded) => Promise<unknown>>;
  return replayMerged(log, Object.keys(handlers) as S[], async (e) => void (await byStream[e.metadata.stream](e)), options);
}

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
  const counts = await replayEach(
    log,
    {
      rides: (e) => projector.onRideEvent(e),
      'driver-locations': async (e) => void (e.type === 'LocationRecorded' && (await projector.onLocation(e))),
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
  const counts = await replayEach(
    log,
    {
      drivers: (e) => geo.onDriverEvent(e),
      'driver-locations': async (e) => void (e.type === 'LocationRecorded' && (await geo.onLocation(e))),
    },
    options,
  );
  await geo.sweepStale?.();
  return { ...counts, driverEvents: counts.perStream.drivers ?? 0, locations: counts.perStream['driver-locations'] ?? 0 };
}
