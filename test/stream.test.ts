import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LatLng } from '../domain/geo.ts';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { strictClock } from './support/clock.ts';
import { client, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';
import { connect, type LiveClient } from './support/ws.ts';

type Service = Awaited<ReturnType<typeof startService>>;
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type User = { token: string; userId: string };

const BASE = { lat: 38.7223, lng: -9.1393 };
/** Each scenario plays in its own town, ~55 km from the others, so no driver of one is offered a ride of another. */
let towns = 0;
const nextTown = () => ({ lat: BASE.lat + 0.5 * ++towns, lng: BASE.lng });
const north = (p: LatLng, meters: number) => ({ lat: p.lat + meters / 111_195, lng: p.lng });
const between = (a: LatLng, b: LatLng, f: number) => ({ lat: a.lat + (b.lat - a.lat) * f, lng: a.lng + (b.lng - a.lng) * f });
/** Numeric stream position of an in-memory event id (`rides:12` → 12). */
const position = (eventId: string) => Number(eventId.split(':')[1]);

/** The scenario's world: a service listening on a real port, with the helpers the tests share. */
function world(tuning: Parameters<typeof startService>[1] = {}, env: Record<string, string> = {}) {
  const w = {} as { service: Service; api: ReturnType<typeof client>; sockets: LiveClient[] };
  beforeAll(async () => {
    // Each event in a later millisecond than the last (strictClock): the replayed story orders by it.
    w.service = await startService({ log: getInMemoryEventLog({ clock: strictClock() }) }, { matchPolicy: { freshnessMs: 10 * 60_000 }, ...tuning }, env);
    await w.service.app.listen({ port: 0, host: '127.0.0.1' });
    w.api = client(w.service.app);
    w.sockets = [];
  });
  afterEach(async () => {
    await Promise.all(w.sockets.splice(0).map((s) => s.close()));
  });
  afterAll(() => w.service.close());

  const open = async (user: { token: string } | string, via: 'header' | 'query' = 'header') => {
    const socket = await connect(w.service.app, typeof user === 'string' ? user : user.token, { via });
    w.sockets.push(socket);
    return socket;
  };

  /** A driver's device: a clock of its own (device time), starting minutes ago and moving 10 s per fix. */
  async function driverAt(at: LatLng) {
    const user = await w.api.user('driver');
    let clock = Date.now() - 8 * 60_000;
    const fix = (p: LatLng) => ({ ...p, recordedAt: (clock += 10_000) });
    expect((await w.api.put('/v1/drivers/me/availability', user.token, { available: true })).status).toBe(200);
    expect((await w.api.post('/v1/drivers/me/locations', user.token, fix(at))).body).toMatchObject({ accepted: 1 });
    await waitFor(() => {
      const d = w.service.ctx.fleet.get(user.userId);
      return d?.available && d.position;
    }, 'the driver to be online with a position');
    return {
      ...user,
      fix,
      /** Posts one fix over HTTP. */
      async post(p: LatLng) {
        const res = await w.api.post('/v1/drivers/me/locations', user.token, fix(p));
        expect(res.body).toMatchObject({ accepted: 1, rejected: 0 });
      },
    };
  }

  async function request(rider: User, pickup: LatLng, dropoff: LatLng): Promise<string> {
    const res = await w.api.post('/v1/rides', rider.token, { pickup, dropoff });
    expect(res.status).toBe(202);
    return res.body.rideId as string;
  }

  /** Rider and driver through to an accepted ride with the driver assigned (so its fixes are the trip's). */
  async function acceptedRide() {
    const pickup = nextTown();
    const dropoff = north(pickup, 1_600);
    const rider = await w.api.user('rider');
    const driver = await driverAt(north(pickup, 300));
    const driverSocket = await open(driver);
    const rideId = await request(rider, pickup, dropoff);
    await driverSocket.next('ride.offer', (m) => m.rideId === rideId);
    expect((await w.api.post(`/v1/rides/${rideId}/accept`, driver.token)).status).toBe(200);
    await waitFor(() => w.service.ctx.fleet.get(driver.userId)?.rideId === rideId, 'the driver to be assigned');
    return { pickup, dropoff, rider, driver, driverSocket, rideId };
  }

  return Object.assign(w, { open, driverAt, request, acceptedRide });
}

describe('live stream over a real WebSocket', () => {
  const w = world();

  it('offers the nearer driver first, then the other; the rider watches the whole trip in order', async () => {
    const { api, service } = w;
    const pickup = nextTown();
    const dropoff = north(pickup, 1_600);
    const near = await w.driverAt(north(pickup, 330));
    const far = await w.driverAt(north(pickup, 1_220));
    const rider = await api.user('rider');
    const nearSocket = await w.open(near);
    const farSocket = await w.open(far, 'query');
    const riderSocket = await w.open(rider);

    const rideId = await w.request(rider, pickup, dropoff);
    expect(await riderSocket.request({ type: 'subscribe', rideId }, 'subscribed')).toEqual({ type: 'subscribed', rideId });

    // Unasked: the offer reaches the nearer driver's socket.
    const offer = await nearSocket.next('ride.offer');
    expect(offer).toEqual({
      type: 'ride.offer', rideId, pickup, dropoff,
      distanceMeters: expect.any(Number), etaSeconds: expect.any(Number), expiresAt: expect.any(String), eventId: expect.any(String),
    });
    expect(offer.distanceMeters).toBeGreaterThan(300);
    expect(offer.distanceMeters).toBeLessThan(360);
    expect(offer.etaSeconds).toBeGreaterThan(0);
    expect(Date.parse(offer.expiresAt)).toBeGreaterThan(Date.now());
    expect(farSocket.all('ride.offer')).toEqual([]);

    const declined = await api.post(`/v1/rides/${rideId}/decline`, near.token);
    expect(declined).toMatchObject({ status: 200, body: { status: 'requested', driverId: null } });

    const second = await farSocket.next('ride.offer');
    expect(second).toMatchObject({ rideId, pickup, dropoff, eventId: expect.any(String) });
    expect(second.distanceMeters).toBeGreaterThan(1_150);
    expect(position(second.eventId)).toBeGreaterThan(position(offer.eventId));
    const accepted = await api.post(`/v1/rides/${rideId}/accept`, far.token);
    expect(accepted).toMatchObject({ status: 200, body: { status: 'accepted', driverId: far.userId } });

    const acceptedMessage = await riderSocket.next('ride.status', (m) => m.status === 'accepted');
    expect(acceptedMessage).toMatchObject({ rideId, event: 'RideAccepted', driverId: far.userId, pickup, dropoff, eventId: expect.any(String) });
    expect(Date.parse(acceptedMessage.at)).not.toBeNaN();
    await waitFor(() => service.ctx.fleet.get(far.userId)?.rideId === rideId, 'the driver to be assigned');

    // The approach: every fix reaches the rider with an ETA that falls as the driver nears the pickup.
    // Half of the fixes over HTTP, half over the driver's socket (acked).
    const start = north(pickup, 1_220);
    const approach = [0.2, 0.4, 0.6, 0.8, 0.97].map((f) => between(start, pickup, f));
    const etas: number[] = [];
    for (const [i, p] of approach.entries()) {
      if (i % 2 === 0) await far.post(p);
      else expect(await farSocket.request({ type: 'location', ...far.fix(p) }, 'location.ack')).toEqual({
        type: 'location.ack', accepted: 1, rejected: 0, rejections: [],
      });
      const moved = await riderSocket.next('driver.location');
      expect(moved).toMatchObject({
        type: 'driver.location', rideId, driverId: far.userId, lat: expect.any(Number), lng: expect.any(Number),
        recordedAt: expect.any(String), etaSeconds: expect.any(Number), eventId: expect.any(String),
      });
      expect(moved).toHaveProperty('heading');
      expect(moved).toHaveProperty('speed');
      etas.push(moved.etaSeconds);
    }
    for (let i = 1; i < etas.length; i++) expect(etas[i]).toBeLessThanOrEqual(etas[i - 1]!);
    expect(etas.at(-1)!).toBeLessThan(etas[0]!);

    expect((await api.post(`/v1/rides/${rideId}/arrive`, far.token)).body.status).toBe('arrived');
    await riderSocket.next('ride.status', (m) => m.status === 'arrived');
    expect((await api.post(`/v1/rides/${rideId}/start`, far.token)).body.status).toBe('in_progress');
    await riderSocket.next('ride.status', (m) => m.status === 'in_progress');
    for (const f of [0.25, 0.5, 0.75, 1]) {
      await far.post(between(pickup, dropoff, f));
      await riderSocket.next('driver.location');
    }
    expect((await api.post(`/v1/rides/${rideId}/complete`, far.token)).body.status).toBe('completed');
    await riderSocket.next('ride.status', (m) => m.event === 'PaymentCaptured');

    // The rider's socket, from acceptance on: in order, each message with its event's id.
    const fromAccepted = riderSocket.messages.slice(riderSocket.messages.indexOf(acceptedMessage));
    const story = fromAccepted.map((m) => (m.type === 'driver.location' ? 'location' : `${m.status}:${m.event}`));
    expect(story).toEqual([
      'accepted:RideAccepted',
      ...approach.map(() => 'location'),
      'arrived:DriverArrived',
      'in_progress:TripStarted',
      'location', 'location', 'location', 'location',
      'completed:TripCompleted',
      'completed:FareCalculated',
      'completed:PaymentCaptured',
    ]);
    for (const m of fromAccepted) expect(m.eventId).toEqual(expect.any(String));
    const rideEvents = fromAccepted.filter((m) => m.type === 'ride.status').map((m) => position(m.eventId));
    const locations = fromAccepted.filter((m) => m.type === 'driver.location').map((m) => position(m.eventId));
    expect(rideEvents).toEqual([...rideEvents].sort((a, b) => a - b));
    expect(locations).toEqual([...locations].sort((a, b) => a - b));
    const inTrip = fromAccepted.filter((m) => m.type === 'driver.location').slice(approach.length);
    expect(inTrip.every((m) => typeof m.etaSeconds === 'number')).toBe(true);

    // Everything the rider saw before acceptance: the offers and the decline, never the offered drivers.
    const before = riderSocket.messages.slice(0, riderSocket.messages.indexOf(acceptedMessage));
    expect(before.map((m) => m.type === 'ride.status' && m.event).filter(Boolean)).toContain('OfferDeclined');
    for (const m of before.filter((x) => x.type === 'ride.status')) expect(m.driverId).toBeNull();
    expect(JSON.stringify(before)).not.toContain(near.userId);
    // The driver who declined heard of nothing after that.
    expect(nearSocket.all('ride.offer')).toHaveLength(1);
    expect(nearSocket.all('driver.location')).toEqual([]);
  });

  it('replays after an eventId exactly once and in order, then goes on live; a bogus `after` is a REPLAY_GAP', async () => {
    const { api } = w;
    const { pickup, dropoff, rider, driver, rideId } = await w.acceptedRide();
    const first = await w.open(rider);
    await first.request({ type: 'subscribe', rideId }, 'subscribed');
    await first.next('ride.status', (m) => m.status === 'accepted');

    const approach = [0.3, 0.6, 0.9].map((f) => between(north(pickup, 300), pickup, f));
    for (const p of approach) {
      await driver.post(p);
      await first.next('driver.location');
    }
    await api.post(`/v1/rides/${rideId}/arrive`, driver.token);
    await first.next('ride.status', (m) => m.status === 'arrived');

    // Resume after the second fix: the third fix and the arrival come from the log, the rest live,
    // while the trip goes on without waiting for anyone.
    const seen = first.all('driver.location')[1]!;
    const second = await w.open(rider, 'query');
    second.send({ type: 'subscribe', rideId, after: seen.eventId });
    await api.post(`/v1/rides/${rideId}/start`, driver.token);
    for (const f of [0.3, 0.6, 0.9]) {
      await driver.post(between(pickup, dropoff, f));
    }
    await api.post(`/v1/rides/${rideId}/complete`, driver.token);
    const last = await first.next('ride.status', (m) => m.event === 'PaymentCaptured');
    await second.find('ride.status', (m) => m.eventId === last.eventId);
    await second.request({ type: 'ping' }, 'pong'); // anything still in flight arrives before the pong

    const after = first.messages.slice(first.messages.indexOf(seen) + 1);
    const key = (m: Json) => `${m.type} ${m.eventId}`;
    const resumed = second.messages.filter((m) => m.type === 'ride.status' || m.type === 'driver.location');
    expect(second.messages[0]).toEqual({ type: 'subscribed', rideId });
    expect(resumed.map(key)).toEqual(after.map(key));
    expect(new Set(resumed.map(key)).size).toBe(resumed.length);
    expect(resumed.map((m) => m.status ?? 'location')).toEqual([
      'location', 'arrived', 'in_progress', 'location', 'location', 'location', 'completed', 'completed', 'completed',
    ]);
    // Replayed ride events read like the live ones.
    expect(resumed[1]).toEqual(after[1]);

    // Resuming after a ride event works the same way.
    const arrived = first.all('ride.status').find((m) => m.status === 'arrived')!;
    const third = await w.open(rider);
    third.send({ type: 'subscribe', rideId, after: arrived.eventId });
    await third.find('ride.status', (m) => m.eventId === last.eventId);
    await third.request({ type: 'ping' }, 'pong');
    expect(third.all().filter((m) => m.eventId).map(key)).toEqual(first.messages.slice(first.messages.indexOf(arrived) + 1).map(key));

    // An id the log does not have (trimmed, or made up): said plainly, then the current state.
    for (const bogus of ['rides:999999', 'nonsense']) {
      const fourth = await w.open(rider);
      fourth.send({ type: 'subscribe', rideId, after: bogus });
      expect(await fourth.next('subscribed')).toEqual({ type: 'subscribed', rideId });
      expect(await fourth.next('error')).toMatchObject({ type: 'error', code: 'REPLAY_GAP', rideId, message: expect.any(String) });
      expect(await fourth.next('ride.status')).toMatchObject({ rideId, status: 'completed', eventId: last.eventId });
      await fourth.request({ type: 'ping' }, 'pong');
      expect(fourth.messages.map((m) => m.type)).toEqual(['subscribed', 'error', 'ride.status', 'pong']);
    }
  });

  it('lets riders watch their own rides, drivers the rides offered or assigned to them, admins any', async () => {
    const { api } = w;
    const pickup = nextTown();
    const dropoff = north(pickup, 1_600);
    const riderA = await api.user('rider');
    const riderB = await api.user('rider');
    const admin = await api.login('admin', 'admin-password-1');
    const offered = await w.driverAt(north(pickup, 200));
    const bystander = await api.user('driver');
    const rideId = await w.request(riderA, pickup, dropoff);

    const b = await w.open(riderB);
    expect(await b.request({ type: 'subscribe', rideId }, 'error')).toEqual({
      type: 'error', code: 'NOT_FOUND', rideId, message: `ride ${rideId} not found`,
    });
    expect((await api.get(`/v1/rides/${rideId}`, riderB.token)).status).toBe(404);
    expect(await b.request({ type: 'subscribe', rideId: 'r_does_not_exist' }, 'error')).toMatchObject({ code: 'NOT_FOUND' });

    const stranger = await w.open(bystander);
    expect(await stranger.request({ type: 'subscribe', rideId }, 'error')).toMatchObject({ code: 'NOT_FOUND', rideId });

    // The offered driver may watch the ride while the offer is theirs, and not after declining it.
    const driverSocket = await w.open(offered);
    await driverSocket.next('ride.offer', (m) => m.rideId === rideId);
    expect(await driverSocket.request({ type: 'subscribe', rideId }, 'subscribed')).toEqual({ type: 'subscribed', rideId });
    expect(await driverSocket.next('ride.status')).toMatchObject({ rideId, status: 'offered', driverId: null });
    await api.post(`/v1/rides/${rideId}/decline`, offered.token);
    expect(await driverSocket.next('ride.status')).toMatchObject({ rideId, status: 'requested', event: 'OfferDeclined' });
    expect(await driverSocket.next('unsubscribed')).toEqual({ type: 'unsubscribed', rideId });
    expect(await driverSocket.request({ type: 'subscribe', rideId }, 'error')).toMatchObject({ code: 'NOT_FOUND', rideId });

    const operator = await w.open(admin);
    expect(await operator.request({ type: 'subscribe', rideId }, 'subscribed')).toEqual({ type: 'subscribed', rideId });
    expect(await operator.next('ride.status')).toMatchObject({ rideId, status: 'requested' });

    const own = await w.open(riderA);
    expect(await own.request({ type: 'subscribe', rideId }, 'subscribed')).toEqual({ type: 'subscribed', rideId });
    await api.post(`/v1/rides/${rideId}/cancel`, riderA.token, { reason: 'test over' });
    expect(await own.next('ride.status', (m) => m.status === 'cancelled')).toMatchObject({ rideId, by: 'rider' });
    expect(await operator.next('ride.status', (m) => m.status === 'cancelled')).toMatchObject({ rideId });
    await driverSocket.request({ type: 'ping' }, 'pong');
    expect(driverSocket.all('ride.status').map((m) => m.event)).toEqual(['RideOffered', 'OfferDeclined']);
    expect(b.all('ride.status')).toEqual([]);
    expect(stranger.all('ride.status')).toEqual([]);
  });

  it('sends the latest location on subscribe, answers ping, acks and validates locations, survives garbage', async () => {
    const { api, service } = w;
    const { pickup, rider, driver, driverSocket, rideId } = await w.acceptedRide();
    await driver.post(north(pickup, 150));
    const latest = await waitFor(() => service.ridecast.tracker.latestLocation(rideId), 'the ride to have a location');

    const socket = await w.open(rider, 'query');
    socket.send({ type: 'subscribe', rideId });
    await socket.next('subscribed');
    expect(await socket.next('ride.status')).toMatchObject({ rideId, status: 'accepted' });
    expect(await socket.next('driver.location')).toEqual(JSON.parse(JSON.stringify(latest))); // as sent: the in-process message also carries its device time (DEVICE_AT, not serialised)
    expect(latest).toMatchObject({ rideId, driverId: driver.userId, etaSeconds: expect.any(Number), eventId: expect.any(String) });
    expect(await socket.request({ type: 'ping' }, 'pong')).toEqual({ type: 'pong' });

    // Locations over the socket: the HTTP rules, the HTTP wording, an ack with the counts.
    const fix = driver.fix(north(pickup, 100));
    expect(await driverSocket.request({ type: 'location', ...fix, recordedAt: new Date(fix.recordedAt).toISOString(), heading: 180, speed: 8 }, 'location.ack'))
      .toEqual({ type: 'location.ack', accepted: 1, rejected: 0, rejections: [] });
    expect(await socket.next('driver.location')).toMatchObject({ rideId, recordedAt: new Date(fix.recordedAt).toISOString() });
    expect(await driverSocket.request({ type: 'location', ...fix }, 'location.ack')).toMatchObject({
      accepted: 0, rejected: 1, rejections: [{ index: 0, code: 'DUPLICATE_POINT' }],
    });
    expect(await driverSocket.request({ type: 'location', lat: 91, lng: 0, recordedAt: Date.now() }, 'error')).toEqual({
      type: 'error', code: 'VALIDATION_ERROR', message: 'message.lat must be <= 90',
    });
    expect(await driverSocket.request({ type: 'location', lat: 1, recordedAt: Date.now() }, 'error')).toMatchObject({
      code: 'VALIDATION_ERROR', message: "message.lng must have required property 'lng'",
    });
    expect(await driverSocket.request({ type: 'location', lat: 1, lng: 1, recordedAt: 'yesterday' }, 'error')).toMatchObject({
      code: 'VALIDATION_ERROR', message: expect.stringContaining('message.recordedAt'),
    });
    expect(await socket.request({ type: 'location', ...driver.fix(pickup) }, 'error')).toMatchObject({ code: 'FORBIDDEN' });

    // Garbage gets an error naming what is wrong, and the socket stays open.
    const garbage: [string | Buffer, string][] = [
      ['not json', 'INVALID_JSON'],
      ['[1,2]', 'VALIDATION_ERROR'],
      ['42', 'VALIDATION_ERROR'],
      ['null', 'VALIDATION_ERROR'],
      ['{"type":"teleport"}', 'UNKNOWN_TYPE'],
      ['{"no":"type"}', 'UNKNOWN_TYPE'],
      ['{"type":"subscribe"}', 'VALIDATION_ERROR'],
      ['{"type":"subscribe","rideId":"../../etc"}', 'VALIDATION_ERROR'],
      ['{"type":"unsubscribe","rideId":7}', 'VALIDATION_ERROR'],
      [Buffer.from([1, 2, 3]), 'INVALID_JSON'],
    ];
    for (const [raw, code] of garbage) {
      const from = socket.messages.length;
      socket.sendRaw(raw);
      const reply = await socket.find('error', (m) => socket.messages.indexOf(m) >= from);
      expect(reply, String(raw)).toMatchObject({ type: 'error', code, message: expect.any(String) });
    }
    expect(await socket.request({ type: 'ping' }, 'pong')).toEqual({ type: 'pong' });
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);

    // Unsubscribed: no more of the ride.
    expect(await socket.request({ type: 'unsubscribe', rideId }, 'unsubscribed')).toEqual({ type: 'unsubscribed', rideId });
    const after = driver.fix(north(pickup, 50));
    await api.post('/v1/drivers/me/locations', driver.token, after);
    await waitFor(() => service.ridecast.tracker.latestLocation(rideId)?.recordedAt === new Date(after.recordedAt).toISOString(), 'the fix to be pushed');
    await socket.request({ type: 'ping' }, 'pong');
    expect(socket.all('driver.location')).toHaveLength(2);
  });

  it('refuses sockets without a valid token', async () => {
    await expect(connect(w.service.app, undefined)).rejects.toMatchObject({ statusCode: 401 });
    await expect(connect(w.service.app, 'not-a-token')).rejects.toMatchObject({ statusCode: 401 });
    await expect(connect(w.service.app, 'not-a-token', { via: 'query' })).rejects.toMatchObject({ statusCode: 401 });
  });

  it('gives a share token one ride to watch, until the trip ends', async () => {
    const { api } = w;
    const { pickup, dropoff, rider, driver, rideId } = await w.acceptedRide();
    const shared = await api.post(`/v1/rides/${rideId}/share`, rider.token);
    expect(shared).toMatchObject({ status: 201, body: { token: expect.any(String), rideId } });
    const token = shared.body.token as string;
    expect((await api.get(`/v1/rides/${rideId}`, token)).status).toBe(403);

    const family = await w.open(token, 'query');
    expect(await family.request({ type: 'subscribe', rideId }, 'subscribed')).toEqual({ type: 'subscribed', rideId });
    expect(await family.next('ride.status')).toMatchObject({ rideId, status: 'accepted' });
    const other = await w.acceptedRide();
    expect(await family.request({ type: 'subscribe', rideId: other.rideId }, 'error')).toMatchObject({ code: 'NOT_FOUND', rideId: other.rideId });
    expect(await family.request({ type: 'location', lat: 1, lng: 1, recordedAt: Date.now() }, 'error')).toMatchObject({ code: 'FORBIDDEN' });
    expect(await family.request({ type: 'subscribe', fleet: true }, 'error')).toMatchObject({ code: 'FORBIDDEN' });

    await driver.post(between(north(pickup, 300), pickup, 0.5));
    expect(await family.next('driver.location')).toMatchObject({ rideId, driverId: driver.userId });
    await api.post(`/v1/rides/${rideId}/start`, driver.token);
    await driver.post(between(pickup, dropoff, 0.5));
    await api.post(`/v1/rides/${rideId}/complete`, driver.token);
    expect(await family.next('ride.status', (m) => m.status === 'completed')).toMatchObject({ event: 'TripCompleted' });
    expect(await family.next('unsubscribed')).toEqual({ type: 'unsubscribed', rideId });

    expect(await family.request({ type: 'subscribe', rideId }, 'error')).toMatchObject({ code: 'SHARE_EXPIRED', rideId });
    const later = await w.open(token);
    expect(await later.request({ type: 'subscribe', rideId }, 'error')).toMatchObject({ code: 'SHARE_EXPIRED', rideId });
    expect((await api.post(`/v1/rides/${rideId}/share`, rider.token)).status).toBe(409);
    // Nothing after the end reached the shared socket (fare, payment).
    expect(family.all('ride.status').map((m) => m.event)).not.toContain('FareCalculated');
  });
});

describe('a socket that cannot keep up', () => {
  // A load generator rather than a car: fixes 5 ms apart in device time, so the one-fix-per-500-ms rule is off here.
  const w = world({ maxBufferedBytes: 64 * 1024, trackingRules: { minIntervalMs: 0 } }, { LOCATION_POINTS_PER_SECOND: '100000', LOCATION_POINTS_BURST: '100000' });

  it('is closed with 1013 instead of buffering without bound; the others keep receiving', async () => {
    const { service } = w;
    const { pickup, dropoff, rider, driver, rideId } = await w.acceptedRide();
    const slow = await w.open(rider);
    const fast = await w.open(rider);
    for (const s of [slow, fast]) {
      s.send({ type: 'subscribe', rideId });
      await s.next('ride.status');
    }
    const rawSocket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    rawSocket.pause();

    // Drive back and forth between pickup and dropoff in 100-point batches until the server gives up on
    // `slow`. Device times 5 ms apart, starting after the driver's last fix and staying short of "now".
    const slowClosed = () => service.ctx.metrics.socketsClosedSlow.get().then((m) => m.values[0]?.value ?? 0);
    const clock = Date.now() - 7 * 60_000; // the driver's own clock is about a minute behind that
    let sent = 0;
    for (let batch = 0; batch < 800 && (await slowClosed()) === 0; batch++) {
      const points = Array.from({ length: 100 }, (_, i) => {
        const f = ((sent + i) % 100) / 50;
        return { ...between(pickup, dropoff, f <= 1 ? f : 2 - f), recordedAt: clock + (sent + i) * 5 };
      });
      const res = await w.api.post('/v1/drivers/me/locations', driver.token, { points });
      expect(res.body).toMatchObject({ accepted: 100, rejected: 0 });
      sent += 100;
      await waitFor(() => fast.all('driver.location').length >= sent, 'the fast socket to keep up');
    }
    expect(await slowClosed()).toBe(1);
    expect(service.ridecast.hub.socketsOf(rider.userId)).toBe(1);

    // The fast socket got every move; the slow one, once it reads again, finds the 1013 at the end.
    rawSocket.resume();
    expect(await slow.closed).toMatchObject({ code: 1013, reason: 'SLOW_CONSUMER' });
    const lastFix = { ...north(pickup, 5), recordedAt: clock + sent * 5 };
    expect((await w.api.post('/v1/drivers/me/locations', driver.token, lastFix)).body).toMatchObject({ accepted: 1 });
    await fast.find('driver.location', (m) => m.recordedAt === new Date(lastFix.recordedAt).toISOString());
    expect(fast.all('driver.location')).toHaveLength(sent + 1);
    expect(fast.ws.readyState).toBe(fast.ws.OPEN);
  });
});
