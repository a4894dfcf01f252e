import type { Actor } from '../../domain/actor.ts';
import { DomainError } from '../../domain/errors.ts';
import { observePoint, screenPoints, type DriverFix, type TrackingRules } from '../../domain/tracking/clean.ts';
import type { LocationEvent } from '../../domain/tracking/events.ts';
import type { ZoneMap } from '../../domain/tracking/zones.ts';
import type { GpsPoint } from '../../domain/tracking/point.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { IngestResult } from '../../domain/ports/driver-commands.ts';
import type { EventLog } from '../../domain/ports/event-log.ts';
import type { Metrics } from './metrics.ts';
import type { SharedScreening } from './partition/screening.ts';

export type { IngestResult } from '../../domain/ports/driver-commands.ts';

export interface IngestionDeps {
  readonly log: EventLog;
  /** Screening's "now" (points from the future are refused) and the per-driver point budget. */
  readonly clock: Clock;
  readonly metrics: Pick<Metrics, 'eventsAppended' | 'locationsAccepted' | 'locationsRejected'>;
}

/**
 * GPS ingestion, the same for HTTP and WebSocket: screen each point against its neighbours in
 * device time (domain/tracking/clean.ts), append the accepted points as events (raw), answer with
 * counts. Screening state: with `shared` (GPS work partitioned over instances) the neighbours live
 * in a store every instance reads (partition/screening.ts), so it does not matter which instance a
 * request lands on; else this instance's own acceptances plus every accepted point its location
 * consumer reads back (`observe`).
 */
export interface IngestionOptions {
  readonly rules?: Partial<TrackingRules>;
  readonly zones?: ZoneMap;
  /** The ride a driver is on: tags each point so the trip's track and live push find it. */
  readonly rideOf: (driverId: string) => string | null;
  /** Points a driver may send per second, over all requests and sockets (LOCATION_POINTS_PER_SECOND). */
  readonly pointsPerSecond?: number;
  /** ...with bursts up to this many (LOCATION_POINTS_BURST): at least one full batch of 100. */
  readonly pointsBurst?: number;
  /** Neighbours kept in a shared store (several instances, GPS work partitioned): see partition/screening.ts. */
  readonly shared?: SharedScreening;
}

/**
 * Beyond this many drivers remembered, the buckets of idle drivers are forgotten. Idle means silent
 * long enough to have refilled from empty: forgetting such a bucket changes nothing (a new one starts
 * full). A driver posting once a second is always full again by its next point, but is not idle:
 * sweeping on "full" alone dropped every active driver's bucket, to be made again at its next point,
 * and past 10,000 active drivers swept the whole map every few thousand points.
 */
const BUCKETS_KEPT = 10_000;

export function makeLocationIngestion({ log, clock, metrics }: IngestionDeps, { rules = {}, zones, rideOf, pointsPerSecond = 10, pointsBurst = 120, shared }: IngestionOptions) {
  const fixes = new Map<string, DriverFix>();
  /** A token bucket per driver, on the injected clock: a request's whole batch fits, or nothing of it is taken. */
  const buckets = new Map<string, { tokens: number; at: number }>();
  /** Refilled from empty after this long without a point: such a bucket is as good as none. */
  const idleMs = (pointsBurst / pointsPerSecond) * 1000;
  /** The next sweep waits until the map has doubled since the last (at least BUCKETS_KEPT): O(1) per point. */
  let sweepAbove = BUCKETS_KEPT;

  function takePoints(driverId: string, n: number): void {
    const t = clock.now();
    const b = buckets.get(driverId);
    const tokens = b ? Math.min(pointsBurst, b.tokens + ((t - b.at) / 1000) * pointsPerSecond) : pointsBurst;
    const left = tokens < n ? tokens : tokens - n;
    // In place: a new bucket per request would live about a second, long enough to be promoted out
    // of the young generation, and every driver's old one would then be old-generation garbage.
    if (b) {
      b.tokens = left;
      b.at = t;
    } else buckets.set(driverId, { tokens: left, at: t });
    if (tokens < n) {
      const wait = Math.max(1, Math.ceil((n - tokens) / pointsPerSecond));
      throw new DomainError('TOO_MANY_POINTS', 429, `at most ${pointsPerSecond} points per second per driver; retry in ${wait} s`, { retryAfterSeconds: wait });
    }
    if (buckets.size > sweepAbove) {
      for (const [id, k] of buckets) if (t - k.at >= idleMs) buckets.delete(id);
      sweepAbove = Math.max(BUCKETS_KEPT, buckets.size * 2);
    }
  }
  /** Named zones each driver was last seen in: crossings become ZoneEntered / ZoneExited events. */
  const zonesOf = new Map<string, readonly string[]>();
  // Tallies, not prom-client incs (metrics.ts): two per request, on the hottest path.
  const appended = metrics.eventsAppended.tally({ stream: 'driver-locations' });
  const accepted = metrics.locationsAccepted.tally();

  /** ZoneEntered / ZoneExited for a move from `was` to where `latest` is; `now` is where the driver is then. */
  function zoneCrossings(driverId: string, was: readonly string[], latest: GpsPoint): { events: LocationEvent[]; now: readonly string[] } {
    const { entered, exited, now } = zones!.transitions(was, latest);
    if (entered.length === 0 && exited.length === 0) return { events: [], now };
    const at = latest.recordedAt;
    return {
      events: [
        ...exited.map((zone): LocationEvent => ({ type: 'ZoneExited', data: { driverId, zone, at } })),
        ...entered.map((zone): LocationEvent => ({ type: 'ZoneEntered', data: { driverId, zone, at } })),
      ],
      now,
    };
  }

  /**
   * Screens `points` against `fix` and builds the events, touching no state: with a shared window the
   * request may be screened again (another instance wrote the driver meanwhile).
   */
  function plan(driverId: string, points: readonly GpsPoint[], fix: DriverFix | null) {
    const screened = screenPoints(fix, points, clock.now(), rules);
    const events: LocationEvent[] = [];
    let zonesNow = zonesOf.get(driverId);
    if (screened.accepted.length > 0) {
      const rideId = rideOf(driverId);
      for (const p of screened.accepted) {
        events.push({
          type: 'LocationRecorded',
          data: { driverId, lat: p.lat, lng: p.lng, recordedAt: p.recordedAt, heading: p.heading, speed: p.speed, accuracy: p.accuracy, rideId, late: p.late },
        });
        // A late point is history: it cannot say where the driver is now, so it crosses no border.
        if (zones && !p.late) {
          const crossing = zoneCrossings(driverId, zonesNow ?? [], p);
          zonesNow = crossing.now;
          for (const e of crossing.events) events.push(e);
        }
      }
    }
    return { screened, accepted: screened.accepted, latest: screened.latest, events, zonesNow };
  }
  type Plan = ReturnType<typeof plan>;

  return {
    fixes,
    /** A recorded point (from any instance) joins the driver's screening neighbours. */
    observe(point: GpsPoint & { readonly driverId: string }): void {
      const fix = fixes.get(point.driverId) ?? null;
      const next = observePoint(fix, point);
      if (next !== fix) fixes.set(point.driverId, next); // usually this instance's own point, known already
    },
    async ingest(actor: Actor, points: readonly GpsPoint[]): Promise<IngestResult> {
      if (actor.role !== 'driver') throw new DomainError('FORBIDDEN', 403, 'only drivers send locations');
      const driverId = actor.userId;
      takePoints(driverId, points.length);
      let done: Plan;
      if (shared) done = await shared.screenAndAppend(driverId, (fix) => plan(driverId, points, fix), (events: readonly LocationEvent[]) => log.append('driver-locations', driverId, events));
      else {
        // No closure per request here: this is every GPS point's path on a single instance.
        done = plan(driverId, points, fixes.get(driverId) ?? null);
        if (done.events.length > 0) await log.append('driver-locations', driverId, done.events);
        if (done.latest) fixes.set(driverId, done.latest);
      }
      const { screened, events } = done;
      if (done.zonesNow) zonesOf.set(driverId, done.zonesNow);
      for (const r of screened.rejected) metrics.locationsRejected.inc({ reason: r.code });
      if (screened.accepted.length > 0) {
        accepted.n += screened.accepted.length;
        appended.n += events.length;
      }
      return { accepted: screened.accepted.length, rejected: screened.rejected.length, rejections: screened.rejected };
    },
  };
}

export type LocationIngestion = ReturnType<typeof makeLocationIngestion>;
