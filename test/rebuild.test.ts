import { describe, expect, it } from 'vitest';
import { createRandom } from '../src/simulator/random.ts';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { getInMemoryReadModel } from '../adapters/memory/read-model.ts';
import type { Event, EventLog, Recorded, StreamName } from '../domain/ports/event-log.ts';
import type { RideReadModel } from '../domain/ports/read-model.ts';
import type { RideEvent } from '../domain/ride/index.ts';
import type { LocationRecorded } from '../domain/tracking/events.ts';
import { opaque } from './support/opaque-log.ts';
import { rebuildRideReadModel, replayMerged, type RebuildProgress } from '../projections/rebuild.ts';
import { makeRideProjector } from '../projections/rides/projector.ts';

const T0 = 1_750_000_000_000;

type Step =
  | { stream: 'rides'; key: string; event: Event }
  | { stream: 'driver-locations'; key: string; event: Event; late?: boolean };

/**
 * One ride's story as its events and its driver's GPS points: requested, offers (declined, expired),
 * then completed with fare, payment and rating, or cancelled midway, or unmatched. Points are sent
 * throughout: before the offer (no ride), during the trip (tracked), duplicates, a late one, one from
 * another driver claiming the ride, and after the end (not tracked).
 */
function rideStory(i: number, random: () => number): Step[] {
  const rideId = `r_${String(i).padStart(2, '0')}`;
  const driverId = `d_${i}`;
  const steps: Step[] = [];
  let t = T0 + i * 7_000;
  const at = () => (t += 1_000 + Math.floor(random() * 4_000));
  const ride = (type: RideEvent['type'], data: Record<string, unknown>) =>
    steps.push({ stream: 'rides', key: rideId, event: { type, data: { rideId, at: at(), ...data } } });
  let lat = 52.5 + random() / 10;
  let lng = 13.3 + random() / 5;
  const point = (onRide: string | null, options: { driver?: string; recordedAt?: number; late?: boolean } = {}) => {
    lat += (random() - 0.5) / 500;
    lng += (random() - 0.5) / 500;
    const data: LocationRecorded['data'] = {
      driverId: options.driver ?? driverId, lat, lng, recordedAt: options.recordedAt ?? at(),
      heading: Math.floor(random() * 360), speed: 8, accuracy: 5, rideId: onRide, late: options.late ?? false,
    };
    steps.push({ stream: 'driver-locations', key: data.driverId, event: { type: 'LocationRecorded', data } });
    return data.recordedAt;
  };

  ride('RideRequested', { riderId: `u_${i}`, pickup: { lat, lng }, dropoff: { lat: lat + 0.02, lng: lng + 0.01 } });
  point(null);
  point(rideId); // claims the ride before it is accepted: not tracked
  const fate = i % 6;
  if (fate === 5) {
    ride('RideOffered', { driverId: 'd_other', expiresAt: t + 15_000, distanceMeters: 900, etaSeconds: 120, round: 1 });
    ride('OfferExpired', { driverId: 'd_other' });
    ride('RideUnmatched', { rounds: 1 });
    point(rideId);
    return steps;
  }
  if (fate === 1) {
    ride('RideOffered', { driverId: 'd_other', expiresAt: t + 15_000, distanceMeters: 900, etaSeconds: 120, round: 1 });
    ride('OfferDeclined', { driverId: 'd_other' });
  }
  ride('RideOffered', { driverId, expiresAt: t + 15_000, distanceMeters: 800, etaSeconds: 100, round: fate === 1 ? 2 : 1 });
  ride('RideAccepted', { driverId });
  const first = point(rideId);
  point(rideId);
  point(rideId, { recordedAt: first }); // the same fix uploaded twice: kept once
  point(rideId, { driver: 'd_intruder' }); // not this ride's driver
  if (fate === 2) {
    ride('RideCancelled', { by: 'rider', reason: 'changed my mind' });
    point(rideId);
    return steps;
  }
  ride('DriverArrived', { driverId, detected: true });
  point(rideId);
  ride('TripStarted', { driverId });
  for (let k = 0; k < 4 + Math.floor(random() * 6); k++) point(rideId);
  point(rideId, { recordedAt: first + 500, late: true }); // a late point: goes into the track in device-time order
  if (fate === 3) {
    ride('RideCancelled', { by: 'driver', reason: null });
    return steps;
  }
  ride('TripCompleted', { driverId, distanceMeters: 4_200, durationSeconds: 900 });
  point(rideId); // after the trip: not tracked
  point(null);
  ride('FareCalculated', { amount: 14.3, currency: 'EUR', distanceMeters: 4_200, durationSeconds: 900 });
  ride(fate === 4 ? 'PaymentFailed' : 'PaymentCaptured', fate === 4 ? { reason: 'card declined' } : { paymentId: `p_${i}`, amount: 14.3, currency: 'EUR' });
  if (fate !== 4) ride('RideRated', { stars: 1 + (i % 5), comment: i % 2 ? 'smooth' : null });
  return steps;
}

/**
 * Builds the rides projection live: every event is appended to a memory log and handed to the
 * projector as a consumer would, with redeliveries (at once, and of ride events much later).
 */
async function liveScenario(seed: number, rides = 36) {
  const random = createRandom(seed).next;
  let clock = T0;
  // Strictly increasing log time: the order a live consumer saw is the order a rebuild can recover.
  const log = getInMemoryEventLog({ clock: { now: () => (clock += 1 + Math.floor(random() * 3)) } });
  const live = getInMemoryReadModel();
  let stale = 0;
  const projector = makeRideProjector(live, () => void stale++);
  const feed = (e: Recorded) =>
    e.metadata.stream === 'rides' ? projector.onRideEvent(e as Recorded<RideEvent>) : projector.onLocation(e as Recorded<LocationRecorded>);

  const stories = Array.from({ length: rides }, (_, i) => rideStory(i, random));
  const versions = new Map<string, number>();
  const delivered: Recorded[] = [];
  while (stories.some((s) => s.length > 0)) {
    const open = stories.filter((s) => s.length > 0);
    const step = open[Math.floor(random() * open.length)]!.shift()!;
    const expectedVersion = step.stream === 'rides' ? (versions.get(step.key) ?? 0) : undefined;
    const [recorded] = await opaque(log).append(step.stream, step.key, [step.event], { expectedVersion });
    if (step.stream === 'rides') versions.set(step.key, expectedVersion! + 1);
    await feed(recorded!);
    if (random() < 0.1) await feed(recorded!); // redelivered at once
    if (step.stream === 'rides' && delivered.length > 0 && random() < 0.1) {
      const old = delivered.filter((e) => e.metadata.stream === 'rides');
      await feed(old[Math.floor(random() * old.length)]!); // an old ride event delivered again
    }
    delivered.push(recorded!);
  }
  const rideIds = Array.from({ length: rides }, (_, i) => `r_${String(i).padStart(2, '0')}`);
  return { log, live, rideIds, stale: () => stale };
}

/** Every ride document and track, sorted, as one string: equal strings mean byte-identical projections. */
async function snapshot(rm: RideReadModel, rideIds: readonly string[]) {
  const rides = [];
  for (const rideId of [...rideIds].sort()) rides.push({ rideId, doc: await rm.get(rideId), track: await rm.track(rideId) });
  const active = (await rm.active()).map((d) => d.rideId).sort();
  return JSON.stringify({ rides, active });
}

const logSize = async (log: EventLog, stream: StreamName) => (await log.read(stream)).length;

describe('rebuilding the rides read model from the log', () => {
  it('gives byte-identical documents and tracks to the live projection, twice in a row', async () => {
    const { log, live, rideIds, stale } = await liveScenario(7);
    const expected = await snapshot(live, rideIds);
    // The scenario covers what it means to: every outcome, tracks with points, stale deliveries.
    const parsed = JSON.parse(expected) as { rides: { doc: { status: string }; track: unknown[] }[]; active: string[] };
    expect(new Set(parsed.rides.map((r) => r.doc.status))).toEqual(new Set(['completed', 'cancelled', 'unmatched']));
    expect(parsed.rides.filter((r) => r.track.length > 0).length).toBeGreaterThan(20);
    expect(stale()).toBeGreaterThan(0);

    const fresh = getInMemoryReadModel();
    const reports: RebuildProgress[] = [];
    const first = await rebuildRideReadModel(log, fresh, { pageSize: 7, progressEveryMs: 0, onProgress: (p) => reports.push(p) });
    expect(await snapshot(fresh, rideIds)).toBe(expected);

    const rides = await logSize(log, 'rides');
    const locations = await logSize(log, 'driver-locations');
    expect(first).toMatchObject({ events: rides + locations, rideEvents: rides, locations, stale: 0 });
    expect(first.positions).toEqual({ rides: String(rides), 'driver-locations': String(locations) });
    // Progress: one report per page read, counts growing, the last one final with the end positions.
    expect(reports.length).toBeGreaterThan((rides + locations) / 7);
    expect(reports.map((r) => r.events)).toEqual([...reports.map((r) => r.events)].sort((a, b) => a - b));
    expect(reports.at(-1)).toMatchObject({ done: true, events: rides + locations, positions: first.positions });
    expect(reports.every((r) => Number.isFinite(r.eventsPerSecond) && r.eventsPerSecond >= 0)).toBe(true);

    // Again into the same model (cleared first), and into the live one itself: the same bytes.
    const second = await rebuildRideReadModel(log, fresh, { pageSize: 1_000 });
    expect(await snapshot(fresh, rideIds)).toBe(expected);
    expect(second).toMatchObject({ events: first.events, stale: 0 });
    await rebuildRideReadModel(log, live);
    expect(await snapshot(live, rideIds)).toBe(expected);
  });

  it('agrees with the live projection over other random interleavings', async () => {
    for (const seed of [1, 2, 3]) {
      const { log, live, rideIds } = await liveScenario(seed, 24);
      const rebuilt = getInMemoryReadModel();
      await rebuildRideReadModel(log, rebuilt, { pageSize: 50 });
      expect(await snapshot(rebuilt, rideIds), `seed ${seed}`).toBe(await snapshot(live, rideIds));
    }
  });

  it('replays streams merged by log time, each in its own order, paging by position', async () => {
    let clock = T0;
    const log = getInMemoryEventLog({ clock: { now: () => (clock += 10) } });
    for (let i = 0; i < 25; i++) {
      await opaque(log).append(i % 3 === 0 ? 'rides' : 'driver-locations', `k_${i % 4}`, [{ type: 'Numbered', data: { i } }]);
    }
    const seen: Recorded[] = [];
    const counts = await replayMerged(log, ['rides', 'driver-locations'], async (e) => void seen.push(e), { pageSize: 2 });
    expect(seen.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(counts).toMatchObject({ events: 25, perStream: { rides: 9, 'driver-locations': 16 } });
    // An empty log: nothing replayed, one final report.
    const reports: RebuildProgress[] = [];
    const none = await replayMerged(getInMemoryEventLog(), ['rides'], async () => undefined, { onProgress: (p) => reports.push(p) });
    expect(none.events).toBe(0);
    expect(reports).toEqual([expect.objectContaining({ done: true, events: 0, positions: {} })]);
  });
});
