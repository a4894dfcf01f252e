// The 20-ride race two instances must not lose (no driver booked twice, each ride paid once), and the
// cities and dispatch settings the scale-out suites run it in: shared by scale-out.{redis,cluster,kafka}.test.ts.
import { expect, onTestFailed } from 'vitest';
import type { LatLng } from '../../domain/geo.ts';
import type { EventLog, Recorded } from '../../domain/ports/event-log.ts';
import type { ServerProcess } from './server-process.ts';
import type { Http } from './http-client.ts';
import { openSocket, type LiveSocket } from './live-socket.ts';
import { metric } from './metrics.ts';
import { auditLog } from './audit.ts';
import { times, waitFor } from './wait.ts';

/** Lisbon: where each suite's first test (live push across instances) runs its ride. */
export const center = { lat: 38.7223, lng: -9.1393 };
export const dropoff = { lat: 38.7369, lng: -9.1427 };
// Each race runs in a city of its own, out of reach of the other tests' drivers and rides (the
// drivers of an earlier race stay online in the fleet, with no bot to answer for them).
export interface City {
  readonly name: string;
  readonly centre: LatLng;
  readonly dropoff: LatLng;
}
export const porto: City = { name: 'Porto', centre: { lat: 41.1579, lng: -8.6291 }, dropoff: { lat: 41.1496, lng: -8.611 } };
export const braga: City = { name: 'Braga', centre: { lat: 41.5454, lng: -8.4265 }, dropoff: { lat: 41.5518, lng: -8.4229 } };
export const coimbra: City = { name: 'Coimbra', centre: { lat: 40.2033, lng: -8.4103 }, dropoff: { lat: 40.2111, lng: -8.4291 } };
const near = (city: City, i: number) => ({ lat: city.centre.lat + 0.0004 * Math.sin(i), lng: city.centre.lng + 0.0004 * Math.cos(i) });

/**
 * The races after the first one, each under another dispatch setting. The setting is per process
 * (MATCHING, OFFER_FANOUT), so the same two instances are restarted with it on the same backend: a
 * few seconds, against a second pair of processes and a second backend for the whole describe.
 */
export interface PolicyRace {
  readonly label: string;
  readonly env: Record<string, string>;
  readonly city: City;
  readonly fanout?: number;
}
export const BATCHED: PolicyRace = { label: 'MATCHING=batched (150 ms window)', env: { MATCHING: 'batched', BATCH_WINDOW_MS: '150' }, city: braga };
/** `batched` and fan-out in one restart (a restart and race cost the file ~26 s here): the window's alternates and top-ups race across instances too. */
export const BATCHED_FANOUT: PolicyRace = {
  label: 'MATCHING=batched (150 ms window) with OFFER_FANOUT=3',
  env: { MATCHING: 'batched', BATCH_WINDOW_MS: '150', OFFER_FANOUT: '3' },
  city: coimbra,
  fanout: 3,
};

/** What the 20-ride race needs of a two-instance setup. */
export interface RaceSetup {
  readonly a: ServerProcess;
  readonly b: ServerProcess;
  readonly apiA: Http;
  readonly apiB: Http;
  readonly admin: string;
  readonly log: EventLog;
  readonly sockets: LiveSocket[];
  /** Whether both instances take part in matching ride events (Kafka: only the holder of the rides partition does; the other joins through its retry sweep). */
  readonly bothMatch: boolean;
  readonly timeoutMs: number;
  /** Where the race's drivers and rides are: a city no earlier race used. */
  readonly city: City;
  /** The instances' OFFER_FANOUT (1 when absent): a ride is offered to this many drivers at once. */
  readonly fanout?: number;
}

/** 20 rides requested through both instances at once against 3 drivers: the race the matchers must not lose. */
export async function twentyRideRace({ a, b, apiA, apiB, admin, log, sockets, bothMatch, timeoutMs, city, fanout = 1 }: RaceSetup): Promise<void> {
  const RIDES = 20;
  const DRIVERS = 3;
  const apis = [apiA, apiB];
  const capturesBefore = (await metric(a.url, 'ridecast_payment_capture_requests_total')) + (await metric(b.url, 'ridecast_payment_capture_requests_total'));
  const drivers = await Promise.all(Array.from({ length: DRIVERS }, (_, i) => apis[i % 2]!.user(admin, 'driver')));
  const riders = await times(RIDES, 8, (i) => apis[i % 2]!.user(admin, 'rider'));

  // Driver bots: each listens on its own instance, lets one offer lapse (OfferExpired), declines one
  // (OfferDeclined), and takes the rest, doing each step through alternating instances. A ride is
  // passed on by one driver at most, so no ride runs out of drivers (a driver who passed is never
  // offered that ride again). With fan-out the bots answer every offer they get at once, so two of
  // them often accept one ride together: one wins, the other is refused and its offer withdrawn.
  const outcomes = { accepted: 0, acceptRefused: 0, ignored: 0, declined: 0, declineRefused: 0, stepFailures: [] as string[] };
  const busy = new Set<Promise<void>>();
  const passed = new Set<string>();
  const botSockets: LiveSocket[] = [];
  for (const [i, d] of drivers.entries()) {
    const home = apis[i % 2]!;
    const socket = await openSocket(home.url(), d.token);
    sockets.push(socket);
    botSockets.push(socket);
    let ignoreLeft = 1;
    let declineLeft = 1;
    let turn = i;
    socket.onMessage((m) => {
      if (m.type !== 'ride.offer') return;
      const rideId = m.rideId as string;
      const pass = !passed.has(rideId) && (ignoreLeft > 0 || declineLeft > 0);
      if (pass) passed.add(rideId);
      if (pass && ignoreLeft > 0) {
        ignoreLeft--;
        return void outcomes.ignored++;
      }
      const work = (async () => {
        if (pass) {
          declineLeft--;
          const r = await apis[turn++ % 2]!.post(`/v1/rides/${rideId}/decline`, d.token);
          if (r.status === 200) outcomes.declined++;
          else outcomes.declineRefused++;
          return;
        }
        const accepted = await apis[turn++ % 2]!.post(`/v1/rides/${rideId}/accept`, d.token);
        if (accepted.status !== 200) return void outcomes.acceptRefused++;
        outcomes.accepted++;
        for (const step of ['arrive', 'start', 'complete']) {
          const r = await apis[turn++ % 2]!.post(`/v1/rides/${rideId}/${step}`, d.token);
          if (r.status !== 200) outcomes.stepFailures.push(`${rideId} ${step}: ${r.status} ${JSON.stringify(r.body)}`);
        }
      })();
      busy.add(work);
      void work.finally(() => busy.delete(work));
    });
    expect((await home.put('/v1/drivers/me/availability', d.token, { available: true })).status).toBe(200);
    expect((await home.post('/v1/drivers/me/locations', d.token, { ...near(city, i), recordedAt: Date.now() })).status).toBe(202);
  }

  const request = (i: number) => apis[i % 2]!.post('/v1/rides', riders[i]!.token, { pickup: near(city, i * 7), dropoff: city.dropoff });
  const ridesOf = async (rideIds: readonly string[]) => {
    const mine = new Set(rideIds);
    return (await log.read('rides')).filter((e) => mine.has(e.metadata.key));
  };
  // Fan-out: the first ride alone, while all three drivers are free, so it is surely offered to
  // more than one of them and a losing offer is surely withdrawn; then the rest all at once.
  const first = fanout > 1 ? [await request(0)] : [];
  if (first.length) {
    const firstId = first[0]!.body.rideId as string;
    await waitFor(async () => (await ridesOf([firstId])).some((e) => e.type === 'OfferWithdrawn'), 'the first ride’s losing offers to be withdrawn', timeoutMs, 100);
  }
  // All at once, half through each instance.
  const requests = [...first, ...(await Promise.all(riders.slice(first.length).map((_, i) => request(i + first.length))))];
  expect(requests.map((r) => r.status)).toEqual(Array(RIDES).fill(202));
  const rideIds = requests.map((r) => r.body.rideId as string);

  const paid = async () => {
    let n = 0;
    for (const rideId of rideIds) if ((await log.readKey('rides', rideId)).some((e) => e.type === 'PaymentCaptured')) n++;
    return n;
  };
  onTestFailed(async () => {
    const last: Record<string, number> = {};
    for (const rideId of rideIds) {
      const t = (await log.readKey('rides', rideId)).at(-1)?.type ?? 'none';
      last[t] = (last[t] ?? 0) + 1;
    }
    console.error(`[scale-out] rides by last event: ${JSON.stringify(last)}; bots ${JSON.stringify(outcomes)}`);
  });
  await waitFor(async () => (await paid()) === RIDES, `all ${RIDES} rides completed and paid`, timeoutMs, 250);
  await Promise.all([...busy]);
  // The reactions to the last completions (DriverFreed) and withdrawals (DriverOfferReleased) land
  // after the payments: wait until every driver's stream, folded, holds no offer and no ride.
  const allFreed = async () => {
    for (const d of drivers) if (!freeAtEnd(await log.readKey('drivers', d.userId))) return false;
    return true;
  };
  onTestFailed(async () => {
    for (const d of drivers) console.error(`[scale-out] ${d.userId} ends with ${(await log.readKey('drivers', d.userId)).slice(-4).map((e) => `${e.type} ${(e.data as { rideId?: string }).rideId ?? ''}`).join(', ')}`);
  });
  await waitFor(allFreed, 'every driver to be free (no hold, no ride) after the last trip', 30_000, 100);

  const audit = auditLog((await log.read('rides')) as Recorded[], (await log.read('drivers')) as Recorded[]);
  const ridesOfThisTest = await ridesOf(rideIds);
  const count = (type: string) => ridesOfThisTest.filter((e) => e.type === type).length;
  const offersByA = await metric(a.url, 'ridecast_offers_total');
  const offersByB = await metric(b.url, 'ridecast_offers_total');
  const capturesA = await metric(a.url, 'ridecast_payment_capture_requests_total');
  const capturesB = await metric(b.url, 'ridecast_payment_capture_requests_total');
  const captures = capturesA + capturesB - capturesBefore;
  console.info(
    `[scale-out] ${city.name}: rides ${RIDES}, drivers ${DRIVERS}, fan-out ${fanout}; ride events checked ${audit.rideEvents}, driver events ${audit.driverEvents}; ` +
      `offers ${count('RideOffered')} (by A ${offersByA}, by B ${offersByB}), expired ${count('OfferExpired')}, declined ${count('OfferDeclined')}, ` +
      `withdrawn ${count('OfferWithdrawn')}, accepted ${count('RideAccepted')}; payment capture requests ${captures}; ` +
      `double assignments ${audit.doubleAssignments.length + audit.driverStreamViolations.length}, duplicates ${audit.duplicates.length}; bots ${JSON.stringify(outcomes)}`,
  );

  expect(audit.doubleAssignments).toEqual([]);
  expect(audit.driverStreamViolations).toEqual([]);
  expect(audit.versionViolations).toEqual([]);
  expect(audit.duplicates).toEqual([]);
  expect(audit.orphanOfferEnds).toEqual([]);
  expect(audit.offersLeftOpen).toEqual([]);
  expect(outcomes.stepFailures).toEqual([]);
  expect(count('RideAccepted')).toBe(RIDES);
  expect(count('TripCompleted')).toBe(RIDES);
  expect(count('PaymentCaptured')).toBe(RIDES);
  // Every offer ended exactly once: taken, declined, lapsed or withdrawn (none is left open).
  expect(count('RideOffered')).toBe(count('RideAccepted') + count('OfferDeclined') + count('OfferExpired') + count('OfferWithdrawn'));
  // Every offer a bot let lapse or was refused on ended once, expired or (fan-out) withdrawn; every
  // decline it made was recorded once.
  expect(outcomes.ignored).toBeGreaterThan(0);
  expect(outcomes.declined).toBeGreaterThan(0);
  expect(count('OfferExpired') + count('OfferWithdrawn')).toBe(outcomes.ignored + outcomes.acceptRefused + outcomes.declineRefused);
  expect(count('OfferDeclined')).toBe(outcomes.declined);
  if (fanout === 1) expect(count('OfferWithdrawn')).toBe(0);
  else {
    // Fan-out happened, and every losing offer was withdrawn because another driver accepted, and
    // its driver was told (`ride.offer.withdrawn` on the socket of their own instance).
    const withdrawn = ridesOfThisTest.filter((e) => e.type === 'OfferWithdrawn') as Recorded[];
    expect(withdrawn.length).toBeGreaterThan(0);
    expect(withdrawn.map((e) => (e.data as { reason: string }).reason)).toEqual(withdrawn.map(() => 'accepted'));
    for (const e of withdrawn) {
      const { driverId } = e.data as { driverId: string };
      const socket = botSockets[drivers.findIndex((d) => d.userId === driverId)]!;
      await socket.waitFor((m) => m.type === 'ride.offer.withdrawn' && m.rideId === e.metadata.key && m.eventId === e.metadata.eventId, `${driverId} told of the withdrawal ${e.metadata.eventId}`);
    }
    // A winner never hears its own ride withdrawn.
    for (const [i, d] of drivers.entries()) {
      const won = new Set(ridesOfThisTest.filter((e) => e.type === 'RideAccepted' && (e.data as { driverId: string }).driverId === d.userId).map((e) => e.metadata.key));
      expect(botSockets[i]!.messages.filter((m) => m.type === 'ride.offer.withdrawn' && won.has(m.rideId as string))).toEqual([]);
    }
  }
  // Both instances matched (a real race), and the reactions group asked the gateway once per ride in all.
  if (bothMatch) {
    expect(offersByA).toBeGreaterThan(0);
    expect(offersByB).toBeGreaterThan(0);
  }
  expect(captures).toBe(RIDES);
  expect(outcomes.accepted).toBe(RIDES);
  // Every driver is free again: no hold left behind (a withdrawn offer's hold released), no ride.
  for (const d of drivers) expect(freeAtEnd(await log.readKey('drivers', d.userId)), d.userId).toBe(true);
}

/**
 * A driver's stream, folded: freed after a trip and holding neither an offer nor a ride. With fan-out
 * the last event may be the release of a withdrawn offer's hold rather than DriverFreed.
 */
function freeAtEnd(history: readonly { type: string; data: unknown }[]): boolean {
  let held: string | null = null;
  let ride: string | null = null;
  for (const e of history) {
    const { rideId } = e.data as { rideId?: string };
    if (e.type === 'DriverOfferHeld') held = rideId!;
    else if (e.type === 'DriverOfferReleased' && held === rideId) held = null;
    else if (e.type === 'DriverAssigned') (held = null), (ride = rideId!);
    else if (e.type === 'DriverFreed' && ride === rideId) ride = null;
  }
  return history.some((e) => e.type === 'DriverFreed') && held === null && ride === null;
}
