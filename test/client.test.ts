import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LatLng } from '../domain/geo.ts';
import { mapPlugin } from '../adapters/http/map/plugin.ts';
import { ApiError, ROUTES } from '../src/client/index.ts';
import { streetsToGeoJson } from '../src/simulator/streets-geojson.ts';
import { generateStreets } from '../src/simulator/streets.ts';
import { between, device, north, recordedStream, sdk, sdkUser } from './support/sdk.ts';
import { ADMIN, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';

type Service = Awaited<ReturnType<typeof startService>>;
const BASE = { lat: 38.7223, lng: -9.1393 };
let towns = 0;
/** Each scenario plays in its own town, so no driver of one is offered a ride of another. */
const nextTown = (): LatLng => ({ lat: BASE.lat + 0.5 * ++towns, lng: BASE.lng });

/** `printRoutes` as "METHOD /path" lines (HEAD, which Fastify adds to every GET, left out). */
function registeredRoutes(tree: string): string[] {
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+)(?: \(([^)]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack[depth] = (depth > 0 ? stack[depth - 1]! : '') + m[2]!;
    stack.length = depth + 1;
    for (const method of m[3]?.split(', ') ?? []) if (method !== 'HEAD') routes.push(`${method} ${stack[depth]}`);
  }
  return routes;
}

describe('typed client SDK against a real server', () => {
  let service: Service;
  let origin: string;

  beforeAll(async () => {
    service = await startService({}, {
      matchPolicy: { freshnessMs: 10 * 60_000 },
      tokenTtlSeconds: 4,
      plugins: [async (app) => void (await app.register(mapPlugin, { streets: streetsToGeoJson(generateStreets()) }))],
    });
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    const address = service.app.server.address();
    origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => service?.close());

  it('has a method for every /v1 route the server serves, and names no route it lacks', () => {
    const served = registeredRoutes(service.app.printRoutes({ commonPrefix: false }));
    expect(served.length).toBeGreaterThan(20);
    const covered = new Set<string>(ROUTES);
    expect(served.filter((r) => r.includes(' /v1/') && !covered.has(r))).toEqual([]);
    expect(ROUTES.filter((r) => !served.includes(r))).toEqual([]);
  });

  it('is served to browsers compiled, as the map page loads it, with no Node module inside', async () => {
    const res = await fetch(`${origin}/map/ridecast-client.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    const source = await res.text();
    expect(source).toMatch(/export \{[^}]*createRidecastClient/);
    expect(source).not.toMatch(/from\s*["']node:|require\(/);
  });

  it('drives a whole ride: each side hears what happens over the stream, and the HTTP calls answer typed views', async () => {
    const pickup = nextTown();
    const dropoff = north(pickup, 1_600);
    const rider = await sdkUser(origin, 'rider');
    const driver = await sdkUser(origin, 'driver');
    const fix = device();

    const { rideId, status } = await rider.rides.request({ pickup, dropoff }, { idempotencyKey: `k-${rideId0()}` });
    expect(status).toBe('requested');
    const riderLive = recordedStream(rider);
    riderLive.stream.follow(rideId);
    await riderLive.next('ride.status', (m) => m.rideId === rideId && m.status === 'requested');

    const driverLive = recordedStream(driver);
    await driverLive.live();
    expect(await driver.drivers.setAvailability(true)).toMatchObject({ driverId: driver.session!.userId, available: true });
    expect(await driver.drivers.reportLocations(fix(north(pickup, 300)))).toMatchObject({ accepted: 1, rejected: 0 });
    const offer = await driverLive.next('ride.offer', (m) => m.rideId === rideId);
    expect(offer).toMatchObject({ pickup, dropoff, eventId: expect.any(String) });
    expect(Date.parse(offer.expiresAt)).toBeGreaterThan(Date.now());

    expect(await driver.rides.accept(rideId)).toMatchObject({ rideId, status: 'accepted', driverId: driver.session!.userId });
    driverLive.stream.follow(rideId);
    for (const f of [0.5, 0.9]) await driver.drivers.reportLocations([fix(between(north(pickup, 300), pickup, f))]);
    const seen = await riderLive.next('driver.location', (m) => m.rideId === rideId);
    expect(seen.driverId).toBe(driver.session!.userId);
    expect(await rider.rides.location(rideId)).toMatchObject({ driverId: driver.session!.userId });
    expect((await rider.drivers.nearby({ lat: pickup.lat, lng: pickup.lng, radius: 5_000 })).drivers).toEqual([]);
    const share = await rider.rides.share(rideId);
    expect(share).toMatchObject({ rideId, token: expect.any(String) });

    await driver.rides.arrive(rideId);
    await driver.rides.start(rideId);
    for (const f of [0.25, 0.5, 0.75, 1]) await driver.drivers.reportLocations(fix(between(pickup, dropoff, f)));
    const done = await driver.rides.complete(rideId);
    expect(done).toMatchObject({ status: 'completed', distanceMeters: expect.any(Number) });
    await riderLive.next('ride.status', (m) => m.event === 'PaymentCaptured');
    const refused = await rider.rides.rate(rideId, { stars: 9 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 400, code: 'VALIDATION_ERROR' });
    const rated = await rider.rides.rate(rideId, { stars: 5, comment: 'smooth' });
    expect(rated).toMatchObject({ rating: { stars: 5, comment: 'smooth' }, fare: { amount: expect.any(Number) }, payment: { status: 'captured' } });
    expect((await rider.rides.track(rideId)).points.length).toBeGreaterThan(1);

    const events = riderLive.of('ride.status').filter((m) => m.rideId === rideId).map((m) => m.event);
    expect(events.slice(0, 6)).toEqual(['RideRequested', 'RideOffered', 'RideAccepted', 'DriverArrived', 'TripStarted', 'TripCompleted']);
    expect(riderLive.gaps).toEqual([]);
    expect(driverLive.errors).toEqual([]);
    expect(await driver.drivers.setAvailability(false)).toMatchObject({ available: false });
    expect(await rider.ops.ready()).toMatchObject({ status: 'ready' });
    expect(await rider.ops.health()).toEqual({ status: 'ok' });
    expect(await rider.ops.metrics()).toMatch(/# TYPE/);
    expect((await rider.map.streets()).features.length).toBeGreaterThan(50);
    expect(await rider.map.config()).toEqual({ tileUrl: null, tileAttribution: null });
    riderLive.stream.close();
    driverLive.stream.close();
  });

  it('a cancel and a decline come back as typed views; a refusal carries the server’s code', async () => {
    const pickup = nextTown();
    const rider = await sdkUser(origin, 'rider');
    const { rideId } = await rider.rides.request({ pickup, dropoff: north(pickup, 900) });
    const again = await rider.rides.request({ pickup, dropoff: north(pickup, 900) }).catch((e: unknown) => e);
    expect(again).toMatchObject({ status: 409, code: 'RIDE_IN_PROGRESS' });
    expect(await rider.rides.cancel(rideId, 'changed my mind')).toMatchObject({ rideId, status: 'cancelled' });
    expect(await rider.rides.get(rideId)).toMatchObject({ status: 'cancelled', cancelledAt: expect.any(String) });
    const driver = await sdkUser(origin, 'driver');
    expect(await driver.rides.decline(rideId).catch((e: unknown) => e)).toMatchObject({ status: 404 });
  });

  it('resumes after the server drops every socket: each event once, in order, from the last one seen', async () => {
    const pickup = nextTown();
    const dropoff = north(pickup, 1_600);
    const rider = await sdkUser(origin, 'rider');
    const driver = await sdkUser(origin, 'driver');
    const fix = device();
    const driverLive = recordedStream(driver);
    await driverLive.live();
    await driver.drivers.setAvailability(true);
    await driver.drivers.reportLocations(fix(north(pickup, 200)));
    const { rideId } = await rider.rides.request({ pickup, dropoff });
    const riderLive = recordedStream(rider);
    riderLive.stream.follow(rideId);
    await riderLive.next('subscribed');
    await driverLive.next('ride.offer', (m) => m.rideId === rideId);
    await driver.rides.accept(rideId);
    await riderLive.next('ride.status', (m) => m.status === 'accepted');
    const accepted = riderLive.of('ride.status').find((m) => m.status === 'accepted')!;
    expect(riderLive.stream.lastEventId(rideId)).toBe(accepted.eventId);

    const sent: string[] = [];
    service.ridecast.hub.closeAll();
    // While the rider is away the ride moves on; the replay must bring exactly that.
    await driver.rides.arrive(rideId).catch(() => driver.rides.arrive(rideId));
    await driver.rides.start(rideId);
    sent.push('DriverArrived', 'TripStarted');
    await waitFor(() => riderLive.states.filter((s) => s === 'live').length >= 2, 'the rider stream to come back');
    await riderLive.next('ride.status', (m) => m.event === 'TripStarted');
    await driver.rides.complete(rideId);
    await riderLive.next('ride.status', (m) => m.event === 'TripCompleted');

    const statuses = riderLive.of('ride.status').filter((m) => m.rideId === rideId);
    const ids = statuses.map((m) => m.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    // The first message is the ride as it stood when the rider followed it: requested, or already offered.
    const events = statuses.map((m) => m.event).filter((e) => e !== 'RideRequested');
    expect(events.slice(0, 5)).toEqual(['RideOffered', 'RideAccepted', ...sent, 'TripCompleted']);
    expect(riderLive.gaps).toEqual([]);
    riderLive.stream.close();
    driverLive.stream.close();
  });

  it('says when it cannot replay (REPLAY_GAP) and carries on from the current state', async () => {
    const pickup = nextTown();
    const rider = await sdkUser(origin, 'rider');
    const { rideId } = await rider.rides.request({ pickup, dropoff: north(pickup, 900) });
    const live = recordedStream(rider);
    live.stream.follow(rideId, 'rides:999999999');
    await waitFor(() => live.gaps.length > 0, 'the gap to be reported');
    expect(live.gaps).toEqual([{ rideId, after: 'rides:999999999', message: expect.stringContaining('cannot replay') }]);
    await live.next('ride.status', (m) => m.rideId === rideId && m.status === 'requested');
    await rider.rides.cancel(rideId);
    await live.next('ride.status', (m) => m.status === 'cancelled');
    live.stream.close();
  });

  it('renews its token before it expires, so calls and reconnections keep working past the first token’s life', async () => {
    const rider = sdk(origin);
    const first = await rider.login(ADMIN.username, ADMIN.password);
    const renewed: string[] = [];
    rider.onSession((s, why) => why === 'refresh' && s && renewed.push(s.token));
    const live = recordedStream(rider);
    await live.live();
    // The first token has lapsed (the server refuses it), yet the client holds a valid one.
    await waitFor(async () => (await fetch(`${origin}/v1/auth/refresh`, { method: 'POST', headers: { authorization: `Bearer ${first.token}` } })).status === 401, 'the first token to expire', 15_000, 200);
    expect(renewed.length).toBeGreaterThan(0);
    expect(rider.session!.expiresAt).toBeGreaterThan(Date.now());
    expect(await rider.ops.ready()).toMatchObject({ status: 'ready' });
    const lives = live.states.filter((s) => s === 'live').length;
    service.ridecast.hub.closeAll();
    await waitFor(() => live.states.filter((s) => s === 'live').length > lives, 'the stream to reconnect with the renewed token');
    expect((await rider.users.create({ username: `late-${Date.now()}`, password: 'password-123', role: 'rider' })).role).toBe('rider');
    live.stream.close();
    rider.logout();
  });
});

let keys = 0;
const rideId0 = () => `${process.pid}-${++keys}-${Date.now()}`;
