import { ApiError, type LocationPoint, type UserSession } from './api-client.ts';
import type { Random } from './random.ts';
import type { StatsBook } from './stats.ts';

/** The contract's batch limit for `POST /v1/drivers/me/locations`. */
const MAX_BATCH = 100;

/**
 * A phone's GPS uploader: fixes are buffered and posted as one batch every 2–3 s. What the
 * server never saw (network, 429, 5xx) is kept for the next batch; what it refused as
 * invalid is dropped. The buffer keeps the newest 100 fixes.
 */
export interface LocationReporter {
  record(point: LocationPoint): void;
  /** Forgets unsent fixes (a driver going offline stops reporting). */
  clear(): void;
  /** Posts if a batch is due; `allowed` false skips this round (offline, or the fleet is congested). */
  maybeFlush(now: number, allowed: boolean): void;
}

export function createLocationReporter(session: UserSession, stats: StatsBook, rng: Random): LocationReporter {
  const buffer: LocationPoint[] = [];
  let posting = false;
  let nextFlush = Date.now() + rng.between(0, 3_000);
  const trim = () => {
    if (buffer.length > MAX_BATCH) buffer.splice(0, buffer.length - MAX_BATCH);
  };
  return {
    record(point) {
      buffer.push(point);
      trim();
    },
    clear() {
      buffer.length = 0;
    },
    maybeFlush(now, allowed) {
      if (now < nextFlush) return;
      nextFlush = now + rng.between(2_000, 3_000);
      if (posting || !allowed || buffer.length === 0) return;
      const points = buffer.splice(0, MAX_BATCH);
      posting = true;
      session
        .drivers.reportLocations(points)
        .then((res) => {
          stats.count('locationsSent', typeof res?.accepted === 'number' ? res.accepted : points.length);
          if (typeof res?.rejected === 'number') stats.count('locationsRejected', res.rejected);
        })
        .catch((err: unknown) => {
          if (err instanceof ApiError && err.status !== 0 && err.status !== 429 && err.status < 500) return;
          buffer.unshift(...points);
          trim();
        })
        .finally(() => (posting = false));
    },
  };
}
