import type { ScreeningStore } from '../../../domain/ports/screening.ts';
import { observePoint, RECENT_POINTS_KEPT, type DriverFix } from '../../../domain/tracking/clean.ts';
import type { GpsPoint } from '../../../domain/tracking/point.ts';

/** Drivers whose copy is kept here; beyond it the oldest copies go (a miss only costs one read). */
const COPIES_KEPT = 20_000;

/**
 * Screening state that does not depend on which instance a driver's request lands on: the
 * neighbours live in a shared store (Redis), and this instance keeps a copy per driver tagged with
 * the store's version. A request reads what was added since its copy's version (one round trip;
 * usually nothing, or the few points another instance accepted) and folds it in; without a copy
 * the whole window is read. After the append the accepted points are added, and the copy moves to
 * the new version, unless someone else wrote in between (then it is dropped).
 */
export function makeSharedScreening(store: ScreeningStore) {
  const copies = new Map<string, { version: number; fix: DriverFix }>();

  return {
    /** The driver's neighbours as the store has them now, and the version they are at. */
    async prior(driverId: string): Promise<{ version: number; fix: DriverFix | null }> {
      const copy = copies.get(driverId);
      const read = await store.read(driverId, copy?.version ?? 0);
      if (read.version === 0) return { version: 0, fix: null };
      if (copy && read.version === copy.version) return copy;
      let fix = read.full ? fixOf(read.points) : copy!.fix;
      if (!read.full) for (const p of read.points) fix = observePoint(fix, p);
      if (fix) keep(driverId, read.version, fix);
      return { version: read.version, fix };
    },
    /** Records accepted points (after their append): `latest` is the window screening ended with. */
    async accepted(driverId: string, before: number, points: readonly GpsPoint[], latest: DriverFix | null): Promise<void> {
      const version = await store.add(driverId, points);
      if (latest && version === before + 1) keep(driverId, version, latest);
      else copies.delete(driverId);
    },
  };

  function keep(driverId: string, version: number, fix: DriverFix): void {
    copies.delete(driverId);
    copies.set(driverId, { version, fix });
    if (copies.size > COPIES_KEPT) copies.delete(copies.keys().next().value!);
  }
}

/** The window `observePoint` would build from these points, in one sort rather than one copy per point. */
function fixOf(points: readonly GpsPoint[]): DriverFix | null {
  if (points.length === 0) return null;
  const byTime = new Map<number, GpsPoint>();
  for (const p of points) if (!byTime.has(p.recordedAt)) byTime.set(p.recordedAt, p);
  const sorted = [...byTime.values()].sort((a, b) => a.recordedAt - b.recordedAt);
  return {
    latest: sorted.at(-1)!,
    recent: sorted.slice(-RECENT_POINTS_KEPT).map((p) => ({ lat: p.lat, lng: p.lng, recordedAt: p.recordedAt })),
  };
}

export type SharedScreening = ReturnType<typeof makeSharedScreening>;
