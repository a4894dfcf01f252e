import { DomainError } from '../../../domain/errors.ts';
import type { Event } from '../../../domain/ports/event-log.ts';
import type { ScreeningStore } from '../../../domain/ports/screening.ts';
import { driverFix, observePoint, RECENT_POINTS_KEPT, type DriverFix } from '../../../domain/tracking/clean.ts';
import type { GpsPoint } from '../../../domain/tracking/point.ts';

/** Drivers whose copy is kept here; beyond it the oldest copies go (a miss only costs one read). */
const COPIES_KEPT = 20_000;
/** Compare-and-append attempts of one request: each lost one means another instance wrote this driver meanwhile. */
const ATTEMPTS = 8;

/** What screening against a window decided: the accepted points, the window after them, the events to append. */
export interface ScreenPlan<E extends Event = Event> {
  readonly accepted: readonly GpsPoint[];
  readonly latest: DriverFix | null;
  readonly events: readonly E[];
}

/**
 * Screening state that does not depend on which instance a driver's request lands on: the
 * neighbours live in a shared store (Redis), and this instance keeps a copy per driver tagged with
 * the store's version. A request reads what was added since its copy's version (one round trip;
 * usually nothing, or the few points another instance accepted) and folds it in; without a copy
 * the whole window is read. After the append the accepted points are added, and the copy moves to
 * the new version, unless someone else wrote in between (then it is dropped).
 *
 * Where the store can append beside the window (`appendIfAt`, Redis), `screenAndAppend` does it in
 * one round trip: screen against the copy, then append if the store is still at the copy's version;
 * if another instance wrote meanwhile, nothing is written, the copy takes in what it added, and the
 * request is screened again. So two instances racing for one driver never both accept against the
 * same neighbours.
 */
export function makeSharedScreening(store: ScreeningStore) {
  const copies = new Map<string, { version: number; fix: DriverFix }>();

  /** `read` folded into the copy: the window at the store's version. */
  function fold(driverId: string, copy: { version: number; fix: DriverFix | null } | undefined, read: { version: number; points: GpsPoint[]; full: boolean }) {
    if (read.version === 0) {
      copies.delete(driverId);
      return { version: 0, fix: null };
    }
    if (copy && read.version === copy.version) return copy;
    let fix = read.full ? fixOf(read.points) : copy?.fix ?? null;
    if (!read.full) for (const p of read.points) fix = observePoint(fix, p);
    if (fix) keep(driverId, read.version, fix);
    return { version: read.version, fix };
  }

  const shared = {
    /** The driver's neighbours as the store has them now, and the version they are at. */
    async prior(driverId: string): Promise<{ version: number; fix: DriverFix | null }> {
      const copy = copies.get(driverId);
      return fold(driverId, copy, await store.read(driverId, copy?.version ?? 0));
    },
    /** Records accepted points (after their append): `latest` is the window screening ended with. */
    async accepted(driverId: string, before: number, points: readonly GpsPoint[], latest: DriverFix | null): Promise<void> {
      const version = await store.add(driverId, points);
      if (latest && version === before + 1) keep(driverId, version, latest);
      else copies.delete(driverId);
    },
    /**
     * Screens against the driver's window and appends what `screen` accepted (`append` where the store
     * cannot append itself), so that the window the points were judged against is the one they join.
     */
    async screenAndAppend<E extends Event, P extends ScreenPlan<E>>(driverId: string, screen: (fix: DriverFix | null) => P, append: (events: readonly E[]) => Promise<unknown>): Promise<P> {
      if (!store.appendIfAt) {
        const prior = await shared.prior(driverId);
        const plan = screen(prior.fix);
        if (plan.accepted.length === 0) return plan;
        await append(plan.events);
        await shared.accepted(driverId, prior.version, plan.accepted, plan.latest);
        return plan;
      }
      // Optimistic: the copy is usually current (this instance wrote last), and without one the
      // window is assumed empty; the store says otherwise, with what it has, when it is not.
      let at: { version: number; fix: DriverFix | null } = copies.get(driverId) ?? { version: 0, fix: null };
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const plan = screen(at.fix);
        const reply = await store.appendIfAt(driverId, at.version, plan.accepted, plan.events);
        if (reply.appended) {
          const fix = plan.accepted.length > 0 ? plan.latest : at.fix;
          if (fix) keep(driverId, reply.version, fix);
          return plan;
        }
        at = fold(driverId, at, reply);
      }
      // Only a driver whose points keep landing on other instances in the same moments gets here.
      throw new DomainError('UNAVAILABLE', 503, 'a backing service is unreachable; try again shortly', { retryAfterSeconds: 1 });
    },
  };
  return shared;

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
  return driverFix(sorted.at(-1)!, sorted.slice(-RECENT_POINTS_KEPT).map((p) => ({ lat: p.lat, lng: p.lng, recordedAt: p.recordedAt })));
}

export type SharedScreening = ReturnType<typeof makeSharedScreening>;
