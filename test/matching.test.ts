import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getInMemoryClaims } from '../adapters/memory/claims.ts';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { getInMemoryUserStore } from '../adapters/memory/users.ts';
import type { DriverEvent } from '../domain/driver/index.ts';
import type { LatLng } from '../domain/geo.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import type { RideEvent } from '../domain/ride/index.ts';
import { ADMIN, client, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';
import { connect, type LiveClient } from './support/ws.ts';

type Service = Awaited<ReturnType<typeof startService>>;
type Api = ReturnType<typeof client>;

const BASE = { lat: 38.7223, lng: -9.1393 };
let towns = 0;
/** Each scenario in its own town, far from the others' drivers. */
const nextTown = () => ({ lat: BASE.lat - 0.5 * ++towns, lng: BASE.lng });
const offset = (p: LatLng, northM: number, eastM = 0) => ({
  lat: p.lat + northM / 111_195,
  lng: p.lng + eastM / (111_195 * Math.cos((p.lat * Math.PI) / 180)),
});

const sockets: LiveClient[] = [];
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
});

async function listen(service: Service) {
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  return service;
}

async function open(service: Service, token: string) {
  const socket = await connect(service.app, token);
  sockets.push(socket);
  return socket;
}

/** A driver online at `at`, with a fix `ageMs` old; waits until every given instance's fleet knows. */
async function driverAt(api: Api, services: Service[], at: LatLng, ageMs = 0) {
  const user = await api.user('driver');
  expect((await api.put('/v1/drivers/me/availability', user.token, { available: true })).status).toBe(200);
  expect((await api.post('/v1/drivers/me/locations', user.token, { ...at, recordedAt: Date.now() - ageMs })).body).toMatchObject({ accepted: 1 });
  for (const s of services)
    await waitFor(() => {
      const d = s.ctx.fleet.get(user.userId);
      return d?.available && d.position;
    }, 'the driver to be online with a position');
  return user;
}

/** Every matching test runs under both dispatch policies; the batched window is short to keep tests quick. */
const POLICIES = [
  { matching: 'nearest', env: {} },
  { matching: 'batched', env: { MATCHING: 'batched', BATCH_WINDOW_MS: '100' } },
] as const;

const rideEvents = async (service: Service) => (await service.ctx.log.read('rides')) as Recorded<RideEvent>[];

describe.each(POLICIES)('matching ($matching) under a race: 30 riders, 3 drivers, two instances sharing one log', ({ matching, env: policyEnv }) => {
  let a: Service;
  let b: Service;
  const shared = { log: getInMemoryEventLog(), users: getInMemoryUserStore(), claims: getInMemoryClaims() };
  beforeAll(async () => {
    const tuning = { matchPolicy: { freshnessMs: 10 * 60_000 }, retryMs: 20 };
    const env = { MATCH_TIMEOUT_MS: '120000', OFFER_TIMEOUT_MS: '5000', ...policyEnv };
    a = await listen(await startService(shared, tuning, env));
    b = await listen(await startService(shared, tuning, env));
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('never offers or assigns one driver two rides at once, and every ride is completed', async () => {
    const town = nextTown();
    const apiA = client(a.app);
    const apiB = client(b.app);
    const drivers = await Promise.all([0, 1, 2].map((i) => driverAt(apiA, [a, b], offset(town, 100 * i, 50 * i))));
    // Riders need nothing but a token (signing 30 is quicker than hashing 30 passwords).
    // (A token is honoured only for an account that exists: stored directly, without a password to hash.)
    const riders = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        await shared.users.create({ userId: `rider-race-${i}`, username: `rider-race-${i}`, role: 'rider', passwordHash: 'none' });
        return { token: a.app.jwt.sign({ sub: `rider-race-${i}`, role: 'rider' }) };
      }),
    );

    // Each driver works from one instance: takes every offer (the first declines every fourth), drives it through.
    let done = 0;
    const completedBy = new Map<string, number>();
    const work = drivers.map(async (driver, i) => {
      const service = i === 1 ? b : a;
      const api = i === 1 ? apiB : apiA;
      const socket = await open(service, driver.token);
      let offers = 0;
      while (done < riders.length) {
        const offer = await socket.next('ride.offer', undefined, 1_000).catch(() => null);
        if (!offer) continue;
        if (i === 0 && ++offers % 4 === 0) {
          await api.post(`/v1/rides/${offer.rideId}/decline`, driver.token);
          continue;
        }
        const accepted = await api.post(`/v1/rides/${offer.rideId}/accept`, driver.token);
        if (accepted.status !== 200) continue; // expired meanwhile: the ride went on to someone else
        for (const step of ['arrive', 'start', 'complete'])
          expect((await api.post(`/v1/rides/${offer.rideId}/${step}`, driver.token)).status, step).toBe(200);
        completedBy.set(driver.userId, (completedBy.get(driver.userId) ?? 0) + 1);
        done++;
      }
    });

    // All at once, half through each instance.
    const requested = await Promise.all(
      riders.map((r, i) => (i % 2 ? apiB : apiA).post('/v1/rides', r.token, { pickup: offset(town, 300 + 10 * i, -200), dropoff: offset(town, 2_000, 500) })),
    );
    expect(requested.map((r) => r.status)).toEqual(riders.map(() => 202));
    await Promise.all(work);
    const rideIds = requested.map((r) => r.body.rideId as string);

    // Every ride completed exactly once.
    await waitFor(async () => (await rideEvents(a)).filter((e) => e.type === 'PaymentCaptured').length === 30, 'every ride to be paid');
    const rides = await rideEvents(a);
    for (const rideId of rideIds) expect(rides.filter((e) => e.metadata.key === rideId && e.type === 'TripCompleted')).toHaveLength(1);
    expect([...completedBy.values()].reduce((x, y) => x + y, 0)).toBe(30);

    // The drivers' stream, folded: a hold or an assignment only ever starts on a free driver.
    const driverLog = (await a.ctx.log.read('drivers')) as Recorded<DriverEvent>[];
    const state = new Map<string, { held: string | null; assigned: string | null }>();
    for (const e of driverLog) {
      const s = state.get(e.metadata.key) ?? { held: null, assigned: null };
      state.set(e.metadata.key, s);
      switch (e.type) {
        case 'DriverOfferHeld':
          expect({ event: e.metadata.eventId, ...s }).toEqual({ event: e.metadata.eventId, held: null, assigned: null });
          s.held = e.data.rideId;
          break;
        case 'DriverOfferReleased':
          if (s.held === e.data.rideId) s.held = null;
          break;
        case 'DriverAssigned':
          expect({ event: e.metadata.eventId, assigned: s.assigned, held: s.held }).toEqual({ event: e.metadata.eventId, assigned: null, held: e.data.rideId });
          s.held = null;
          s.assigned = e.data.rideId;
          break;
        case 'DriverFreed':
          if (s.assigned === e.data.rideId) s.assigned = null;
          break;
        default:
          break;
      }
    }
    expect(driverLog.filter((e) => e.type === 'DriverAssigned')).toHaveLength(30);

    // The rides' stream, folded per driver: one open offer or one accepted ride at a time.
    const offeredTo = new Map<string, string>(); // rideId → driver holding its open offer
    const onRide = new Map<string, string>(); // driverId → the ride they carry
    const openOffer = new Map<string, string>(); // driverId → the ride they were offered
    for (const e of rides) {
      const rideId = e.metadata.key;
      const closeOffer = () => {
        const d = offeredTo.get(rideId);
        if (d) openOffer.delete(d);
        offeredTo.delete(rideId);
      };
      switch (e.type) {
        case 'RideOffered':
          expect({ event: e.metadata.eventId, offer: openOffer.get(e.data.driverId), ride: onRide.get(e.data.driverId) }).toEqual({ event: e.metadata.eventId, offer: undefined, ride: undefined });
          openOffer.set(e.data.driverId, rideId);
          offeredTo.set(rideId, e.data.driverId);
          break;
        case 'RideAccepted':
          closeOffer();
          expect(onRide.get(e.data.driverId)).toBeUndefined();
          onRide.set(e.data.driverId, rideId);
          break;
        case 'OfferDeclined':
        case 'OfferExpired':
        case 'RideUnmatched':
          closeOffer();
          break;
        case 'TripCompleted':
          expect(onRide.get(e.data.driverId)).toBe(rideId);
          onRide.delete(e.data.driverId);
          break;
        default:
          break;
      }
    }
    const offersOf = async (s: Service) => (await s.ctx.metrics.offersMade.get()).values[0]?.value ?? 0;
    const [byA, byB] = [await offersOf(a), await offersOf(b)];
    expect(byA + byB).toBeGreaterThanOrEqual(30);
    // nearest: each instance offers the rides its share of the group hands it, so both did some.
    // batched: both instances put every waiting ride in their windows (their sweeps see all rides)
    // and race for each ride's lease; which one wins them all is a matter of timing, not of rule.
    if (matching === 'nearest') {
      expect(byA).toBeGreaterThan(0);
      expect(byB).toBeGreaterThan(0);
    }
  }, 90_000);
});

describe.each(POLICIES)('two matchers ($matching) racing for one ride and one driver', ({ env }) => {
  it.each([
    ['sharing the per-ride lease', true],
    ['without a shared lease (each instance its own claims)', false],
  ])('%s: one offer, and the driver stays held for it', async (_name, shareClaims) => {
    const log = getInMemoryEventLog();
    const users = getInMemoryUserStore();
    const claims = getInMemoryClaims();
    const infra = () => ({ log, users, claims: shareClaims ? claims : getInMemoryClaims() });
    const a = await startService(infra(), { retryMs: 60_000 }, env);
    const b = await startService(infra(), { retryMs: 60_000 }, env);
    try {
      const town = nextTown();
      const api = client(a.app);
      await users.create({ userId: 'rider-duel', username: 'rider-duel', role: 'rider', passwordHash: 'none' });
      const rider = { token: a.app.jwt.sign({ sub: 'rider-duel', role: 'rider' }) };
      // Nobody is online yet: the ride waits in `requested`.
      const { rideId } = (await api.post('/v1/rides', rider.token, { pickup: town, dropoff: offset(town, 2_000) })).body;
      await waitFor(() => a.ridecast.tracker.activeRides().get(rideId) && b.ridecast.tracker.activeRides().get(rideId), 'both instances to know the ride');
      const driver = await driverAt(api, [a, b], offset(town, 100));
      // Both instances consider the ride at the same moment (as their sweeps and the matcher group may).
      await Promise.all([a.ridecast.matcher.consider(rideId), b.ridecast.matcher.consider(rideId), a.ridecast.matcher.consider(rideId)]);
      await waitFor(async () => (await log.readKey('rides', rideId)).some((e) => e.type === 'RideOffered'), 'the offer');
      expect((await log.readKey('rides', rideId)).filter((e) => e.type === 'RideOffered')).toHaveLength(1);
      const held = (await log.readKey('drivers', driver.userId)).map((e) => e.type);
      expect(held).toEqual(['DriverAvailabilityChanged', 'DriverOfferHeld']);
      expect((await api.post(`/v1/rides/${rideId}/accept`, driver.token)).status).toBe(200);
      await waitFor(() => a.ctx.fleet.get(driver.userId)?.rideId === rideId, 'the driver to be assigned');
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe.each(POLICIES)('matching rules ($matching)', ({ env }) => {
  let service: Service;
  let api: Api;
  beforeAll(async () => {
    service = await listen(await startService({}, {}, { OFFER_TIMEOUT_MS: '1000', MATCH_TIMEOUT_MS: '2000', ...env }));
    api = client(service.app);
  });
  afterAll(() => service.close());

  it('moves an unanswered offer on to the next driver when it expires', async () => {
    const town = nextTown();
    const near = await driverAt(api, [service], offset(town, 200));
    const far = await driverAt(api, [service], offset(town, 600));
    const nearSocket = await open(service, near.token);
    const farSocket = await open(service, far.token);
    const rider = await api.user('rider');
    const riderSocket = await open(service, rider.token);
    const { rideId } = (await api.post('/v1/rides', rider.token, { pickup: town, dropoff: offset(town, 2_000) })).body;
    await riderSocket.request({ type: 'subscribe', rideId }, 'subscribed');

    const first = await nearSocket.next('ride.offer', (m) => m.rideId === rideId);
    const second = await farSocket.next('ride.offer', (m) => m.rideId === rideId);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(first.expiresAt));
    expect(await riderSocket.next('ride.status', (m) => m.event === 'OfferExpired')).toMatchObject({ rideId, status: 'requested', driverId: null });
    expect(await riderSocket.next('ride.status', (m) => m.event === 'RideOffered')).toMatchObject({ eventId: second.eventId });
    expect((await api.post(`/v1/rides/${rideId}/accept`, near.token)).body).toMatchObject({ code: 'OFFER_EXPIRED' });
    expect((await api.post(`/v1/rides/${rideId}/accept`, far.token)).body).toMatchObject({ status: 'accepted', driverId: far.userId });
    expect(nearSocket.all('ride.offer')).toHaveLength(1);
  });

  it('gives up as unmatched within the match timeout when nobody is eligible, and tells the rider', async () => {
    const town = nextTown();
    const rider = await api.user('rider');
    const riderSocket = await open(service, rider.token);
    const { rideId } = (await api.post('/v1/rides', rider.token, { pickup: town, dropoff: offset(town, 2_000) })).body;
    await riderSocket.request({ type: 'subscribe', rideId }, 'subscribed');
    const unmatched = await riderSocket.next('ride.status', (m) => m.status === 'unmatched', 10_000);
    expect(unmatched).toMatchObject({ rideId, event: 'RideUnmatched', eventId: expect.any(String) });
    const requestedAt = Date.parse((await api.get(`/v1/rides/${rideId}`, rider.token)).body.requestedAt);
    const waited = Date.parse(unmatched.at) - requestedAt;
    expect(waited).toBeGreaterThanOrEqual(2_000);
    expect(waited).toBeLessThan(2_000 + 1_000); // the deadline, plus a loaded event loop's lag at most
    expect((await api.get(`/v1/rides/${rideId}`, rider.token)).body.status).toBe('unmatched');
    // The rider may ask again.
    expect((await api.post('/v1/rides', rider.token, { pickup: town, dropoff: offset(town, 2_000) })).status).toBe(202);
  });

  it('skips drivers whose last fix is stale, and drivers who are busy', async () => {
    const town = nextTown();
    const stale = await driverAt(api, [service], offset(town, 100), 90_000); // freshness is 60 s
    const busy = await driverAt(api, [service], offset(town, 150));
    const fresh = await driverAt(api, [service], offset(town, 900));
    const staleSocket = await open(service, stale.token);
    const busySocket = await open(service, busy.token);
    const freshSocket = await open(service, fresh.token);

    // `busy` takes a ride first (nearest fresh driver to a pickup right next to them).
    const first = await api.user('rider');
    const r1 = (await api.post('/v1/rides', first.token, { pickup: offset(town, 150, 10), dropoff: offset(town, 3_000) })).body.rideId;
    await busySocket.next('ride.offer', (m) => m.rideId === r1);
    expect((await api.post(`/v1/rides/${r1}/accept`, busy.token)).status).toBe(200);
    await waitFor(() => service.ctx.fleet.get(busy.userId)?.rideId === r1, 'the driver to be assigned');

    // The next ride, nearest to `stale` then `busy`: it goes to `fresh`.
    const second = await api.user('rider');
    const r2 = (await api.post('/v1/rides', second.token, { pickup: offset(town, 90), dropoff: offset(town, 3_000) })).body.rideId;
    const offer = await freshSocket.next('ride.offer', (m) => m.rideId === r2);
    expect(offer.distanceMeters).toBeGreaterThan(700);
    const heldBy = (await service.ctx.log.read('drivers'))
      .filter((e) => e.type === 'DriverOfferHeld' && (e.data as { rideId: string }).rideId === r2)
      .map((e) => e.metadata.key);
    expect(heldBy).toEqual([fresh.userId]);
    await staleSocket.request({ type: 'ping' }, 'pong');
    expect(staleSocket.all('ride.offer')).toEqual([]);
    expect(busySocket.all('ride.offer').map((m) => m.rideId)).toEqual([r1]);
    await api.post(`/v1/rides/${r2}/decline`, fresh.token);
    await api.post(`/v1/rides/${r1}/cancel`, first.token);
  });
});

describe('batched dispatch: one window solved as a whole', () => {
  let service: Service;
  let api: Api;
  beforeAll(async () => {
    // A window long enough that two requests made together surely share it, even on a loaded machine.
    service = await listen(await startService({}, {}, { MATCHING: 'batched', BATCH_WINDOW_MS: '1500', OFFER_TIMEOUT_MS: '60000' }));
    api = client(service.app);
  });
  afterAll(() => service.close());

  it('gives two riders of one window the drivers that minimise total pickup, where nearest-first in arrival order would not', async () => {
    // On a line: drivers at 0 m and 600 m, pickups at 500 m then 1,300 m. Nearest-first gives the first
    // rider the 600 m driver (100 m away) and the second the 0 m one (1,300 m): 1,400 m in all.
    // The window gives the first the 0 m driver (500 m) and the second the 600 m one (700 m): 1,200 m.
    const town = nextTown();
    const at0 = await driverAt(api, [service], offset(town, 0, 0));
    const at600 = await driverAt(api, [service], offset(town, 0, 600));
    const sockets0 = await open(service, at0.token);
    const sockets600 = await open(service, at600.token);
    const [first, second] = [await api.user('rider'), await api.user('rider')];
    const [r1, r2] = await Promise.all([
      api.post('/v1/rides', first.token, { pickup: offset(town, 0, 500), dropoff: offset(town, 2_000) }),
      api.post('/v1/rides', second.token, { pickup: offset(town, 0, 1_300), dropoff: offset(town, 2_000) }),
    ]);
    const offer0 = await sockets0.next('ride.offer');
    const offer600 = await sockets600.next('ride.offer');
    expect({ [at0.userId]: offer0.rideId, [at600.userId]: offer600.rideId }).toEqual({ [at0.userId]: r1.body.rideId, [at600.userId]: r2.body.rideId });
    // The offer carries the ETA the window chose on.
    expect(offer0.etaSeconds).toBe(Math.round((500 * 1.3) / 4));

    // Operators see dispatch quality live: both matched, and a pickup time once a driver arrived.
    const admin = await api.login(ADMIN.username, ADMIN.password);
    const ops = await open(service, admin.token);
    await ops.request({ type: 'subscribe', fleet: true }, 'fleet.snapshot');
    for (const [driver, offer] of [[at0, offer0], [at600, offer600]] as const) {
      expect((await api.post(`/v1/rides/${offer.rideId}/accept`, driver.token)).body).toMatchObject({ status: "accepted" });
      expect((await api.post(`/v1/rides/${offer.rideId}/arrive`, driver.token)).status).toBe(200);
    }
    const stats = await ops.next('fleet.stats', (m) => m.meanPickupSeconds !== null && m.matchRate === 1, 10_000);
    expect(stats).toMatchObject({ matchRate: 1, meanPickupSeconds: expect.any(Number) });
  });
});
