import type { Actor } from '../../domain/actor.ts';
import { DomainError } from '../../domain/errors.ts';
import { screenPoints, type DriverFix, type Rejection, type TrackingRules } from '../../domain/tracking/clean.ts';
import type { LocationRecorded } from '../../domain/tracking/events.ts';
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
export function makeLocationIngestion(ctx: Context, rules: Partial<TrackingRules> = {}) {
  const fixes = new Map<string, DriverFix>();

  return {
    fixes,
    async ingest(actor: Actor, points: readonly GpsPoint[]): Promise<IngestResult> {
      if (actor.role !== 'driver') throw new DomainError('FORBIDDEN', 403, 'only drivers send locations');
      const driverId = actor.userId;
      const screened = screenPoints(fixes.get(driverId) ?? null, points, ctx.now(), rules);
      for (const r of screened.rejected) ctx.metrics.locationsRejected.inc({ reason: r.code });
      if (screened.accepted.length > 0) {
        const rideId = ctx.fleet.get(driverId)?.rideId ?? null;
        const events: LocationRecorded[] = screened.accepted.map((p) => ({
          type: 'LocationRecorded',
          data: { driverId, lat: p.lat, lng: p.lng, recordedAt: p.recordedAt, heading: p.heading, speed: p.speed, accuracy: p.accuracy, rideId, late: p.late },
        }));
        await ctx.log.append('driver-locations', driverId, events);
        if (screened.latest) fixes.set(driverId, screened.latest);
        ctx.metrics.locationsAccepted.inc(events.length);
        ctx.metrics.eventsAppended.inc({ stream: 'driver-locations' }, events.length);
      }
      return { accepted: screened.accepted.length, rejected: screened.rejected.length, rejections: screened.rejected };
    },
  };
}

export type LocationIngestion = ReturnType<typeof makeLocationIngestion>;
