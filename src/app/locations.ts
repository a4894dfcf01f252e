import type { Actor } from '../../domain/actor.ts';
import { DomainError } from '../../domain/errors.ts';
import { screenPoints, type DriverFix, type Rejection, type TrackingRules } from '../../domain/tracking/clean.ts';
import type { LocationEvent } from '../../domain/tracking/events.ts';
import type { ZoneMap } from '../../domain/tracking/zones.ts';
import type { GpsPoint } from '../../domain/tracking/point.ts';
import type { Context } from './context.ts';

export interface IngestResult {
  readonly accepted: number;
  readonly rejected: number;
  readonly rejections: readonly Rejection[];
}

/**
 * GPS ingestion, the same for HTTP and WebSocket: screen against the driver's last fix, append the
 * accepted points as events (raw), answer with counts. Screening state lives here, per instance;
 * the location consumer also feeds it so any instance knows every driver's last fix.
 */
export interface IngestionOptions {
  readonly rules?: Partial<TrackingRules>;
  readonly zones?: ZoneMap;
  /** The ride a driver is on: tags each point so the trip's track and live push find it. */
  readonly rideOf: (driverId: string) => string | null;
}

export function makeLocationIngestion(ctx: Context, { rules = {}, zones, rideOf }: IngestionOptions) {
  const fixes = new Map<string, DriverFix>();
  /** Named zones each driver was last seen in: crossings become ZoneEntered / ZoneExited events. */
  const zonesOf = new Map<string, readonly string[]>();
  const appended = ctx.metrics.eventsAppended.labels({ stream: 'driver-locations' });

  function zoneCrossings(driverId: string, latest: GpsPoint): LocationEvent[] {
    if (!zones) return [];
    const { entered, exited, now } = zones.transitions(zonesOf.get(driverId) ?? [], latest);
    zonesOf.set(driverId, now);
    const at = latest.recordedAt;
    return [
      ...exited.map((zone): LocationEvent => ({ type: 'ZoneExited', data: { driverId, zone, at } })),
      ...entered.map((zone): LocationEvent => ({ type: 'ZoneEntered', data: { driverId, zone, at } })),
    ];
  }

  return {
    fixes,
    async ingest(actor: Actor, points: readonly GpsPoint[]): Promise<IngestResult> {
      if (actor.role !== 'driver') throw new DomainError('FORBIDDEN', 403, 'only drivers send locations');
      const driverId = actor.userId;
      const screened = screenPoints(fixes.get(driverId) ?? null, points, ctx.now(), rules);
      for (const r of screened.rejected) ctx.metrics.locationsRejected.inc({ reason: r.code });
      if (screened.accepted.length > 0) {
        const rideId = rideOf(driverId);
        const events: LocationEvent[] = [];
        for (const p of screened.accepted) {
          events.push({
            type: 'LocationRecorded',
            data: { driverId, lat: p.lat, lng: p.lng, recordedAt: p.recordedAt, heading: p.heading, speed: p.speed, accuracy: p.accuracy, rideId, late: p.late },
          });
          // A late point is history: it cannot say where the driver is now, so it crosses no border.
          if (!p.late) events.push(...zoneCrossings(driverId, p));
        }
        await ctx.log.append('driver-locations', driverId, events);
        if (screened.latest) fixes.set(driverId, screened.latest);
        ctx.metrics.locationsAccepted.inc(screened.accepted.length);
        appended.inc(events.length);
      }
      return { accepted: screened.accepted.length, rejected: screened.rejected.length, rejections: screened.rejected };
    },
  };
}

export type LocationIngestion = ReturnType<typeof makeLocationIngestion>;
