import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeZones } from '../adapters/geo/zones.ts';
import { distanceMeters, type LatLng } from '../domain/geo.ts';
import { client, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';
import { connect } from './support/ws.ts';

// A drive north along one street in Lisbon: 10 m/s, a fix every 10 s.
const pickup = { lat: 38.7223, lng: -9.1393 };
const dropoff = { lat: 38.7313, lng: -9.1393 };
const north = (from: LatLng, metres: number) => ({ lat: from.lat + metres / 111_195, lng: from.lng });
const square = (c: LatLng, m: number) => {
  const dLat = m / 111_195;
  const dLng = m / (111_195 * Math.cos((c.lat * Math.PI) / 180));
  return { type: 'Polygon' as const, coordinates: [[[c.lng - dLng, c.lat - dLat], [c.lng + dLng, c.lat - dLat], [c.lng + dLng, c.lat + dLat], [c.lng - dLng, c.lat + dLat], [c.lng - dLng, c.lat - dLat]]] };
};

describe('tracking pipeline: dirty GPS in, clean picture out', () => {
  let service: Awaited<ReturnType<typeof startService>>;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    const zones = makeZones({ zones: [{ name: 'station', geometry: square(north(pickup, 500), 150) }] });
    // The drive is replayed from the last few minutes, so matching must accept a fix that old.
    service = await startService({}, { arrivalRules: { radiusM: 50, dwellMs: 10_000 }, zones, matchPolicy: { freshnessMs: 15 * 60_000 } });
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    api = client(service.app);
  });
  afterAll(() => service.close());

  const metric = async (reason: string) => {
    const text = (await service.app.inject({ method: 'GET', url: '/metrics' })).body;
    const line = text.split('\n').find((l) => l.startsWith(`ridecast_locations_rejected_total{reason="${reason}"}`));
    return Number(line?.split(' ')[1] ?? 0);
  };

  it('screens, smooths, estimates, detects arrival once, and bills the cleaned distance', async () => {
    const rider = await api.user('rider');
    const driver = await api.user('driver');
    const t0 = Date.now() - 8 * 60_000; // the whole drive happened in the last few minutes
    const approach = (i: number) => ({ ...north(pickup, -800 + i * 100), recordedAt: t0 + i * 10_000, accuracy: 5 });
    await api.put('/v1/drivers/me/availability', driver.token, { available: true });
    await api.post('/v1/drivers/me/locations', driver.token, approach(0));
    const { rideId } = (await api.post('/v1/rides', rider.token, { pickup, dropoff })).body;
    await waitFor(async () => (await api.get(`/v1/rides/${rideId}`, driver.token)).body.status === 'offered', 'the offer');
    await api.post(`/v1/rides/${rideId}/accept`, driver.token);
    await waitFor(() => service.ctx.fleet.get(driver.userId)?.rideId === rideId, 'the assignment');
    const watcher = await connect(service.app, rider.token);
    await watcher.request({ type: 'subscribe', rideId }, 'subscribed');

    // Given a batch sent out of order, with a resend, a point from the future, a blurry one and a 3 km jump…
    const batch = [
      approach(3), approach(1), approach(2), approach(2),
      { ...north(pickup, 0), recordedAt: Date.now() + 5 * 60_000 },
      { ...approach(4), accuracy: 500 },
      { ...north(pickup, 3_000), recordedAt: t0 + 45_000 },
      approach(4),
    ];
    const before = { FUTURE_POINT: await metric('FUTURE_POINT'), DUPLICATE_POINT: await metric('DUPLICATE_POINT') };
    const screened = await api.post('/v1/drivers/me/locations', driver.token, { points: batch });
    // …then the good points are taken in device-time order and each bad one is named.
    expect(screened.body.accepted).toBe(4);
    expect(screened.body.rejections.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([
      [3, 'DUPLICATE_POINT'], [4, 'FUTURE_POINT'], [5, 'LOW_ACCURACY'], [6, 'IMPOSSIBLE_SPEED'],
    ]);
    expect(await metric('FUTURE_POINT')).toBe(before.FUTURE_POINT + 1);
    expect(await metric('DUPLICATE_POINT')).toBe(before.DUPLICATE_POINT + 1);
    expect(await metric('LOW_ACCURACY')).toBeGreaterThanOrEqual(1);
    expect(await metric('IMPOSSIBLE_SPEED')).toBeGreaterThanOrEqual(1);

    // A late point goes on the track but never moves the driver back.
    for (let i = 5; i <= 8; i++) await api.post('/v1/drivers/me/locations', driver.token, approach(i));
    const shownBefore = service.ctx.fleet.get(driver.userId)!.position!;
    expect((await api.post('/v1/drivers/me/locations', driver.token, { ...approach(0), recordedAt: t0 + 5_000 })).body.accepted).toBe(1);
    expect(service.ctx.fleet.get(driver.userId)!.position).toEqual(shownBefore);

    // The rider sees ETA fall as the car approaches.
    const etas = await waitFor(() => {
      const e = watcher.all('driver.location').map((m) => m.etaSeconds as number);
      return e.length >= 6 && e;
    }, 'six location pushes');
    expect(etas.every((s) => Number.isInteger(s) && s >= 0)).toBe(true);
    expect(etas.at(-1)!).toBeLessThan(etas[0]!);
    // Once the filter has two fixes to measure speed from, the estimate only falls.
    const settled = etas.slice(2);
    for (let i = 1; i < settled.length; i++) expect(settled[i]!).toBeLessThanOrEqual(settled[i - 1]!);

    // Parked at the pickup with jitter for longer than the dwell: arrival is detected, and told once.
    const parkedAt = t0 + 90_000;
    for (let k = 0; k < 5; k++) {
      const jitter = { lat: pickup.lat + (k % 2 ? 1 : -1) * 0.00004, lng: pickup.lng + (k % 3 ? 1 : -1) * 0.00004 };
      await api.post('/v1/drivers/me/locations', driver.token, { ...jitter, recordedAt: parkedAt + k * 5_000, accuracy: 8 });
    }
    const arrived = await watcher.next('ride.status', (m) => m.status === 'arrived');
    expect(arrived).toMatchObject({ event: 'DriverArrived', detected: true, eventId: expect.stringMatching(/^rides:/) });
    expect((await api.post(`/v1/rides/${rideId}/arrive`, driver.token)).body.status).toBe('arrived'); // the tap confirms

    // The trip: 1 km north, then parked jitter at the dropoff that must not add distance.
    await api.post(`/v1/rides/${rideId}/start`, driver.token);
    // The start is the sentinel: a second arrival would have reached the rider before it.
    await watcher.next('ride.status', (m) => m.event === 'TripStarted');
    expect(watcher.all('ride.status', (m) => m.status === 'arrived')).toHaveLength(1);
    const tripStart = parkedAt + 30_000;
    const trip = Array.from({ length: 11 }, (_, i) => ({ ...north(pickup, i * 100), recordedAt: tripStart + i * 10_000, accuracy: 5 }));
    const parked = Array.from({ length: 10 }, (_, k) => ({
      lat: dropoff.lat + (k % 2 ? 1 : -1) * 0.00003, lng: dropoff.lng + (k % 3 ? 1 : -1) * 0.00003,
      recordedAt: tripStart + 110_000 + k * 3_000, accuracy: 8,
    }));
    expect((await api.post('/v1/drivers/me/locations', driver.token, { points: [...trip, ...parked] })).body.accepted).toBe(21);
    await waitFor(async () => (await service.ctx.readModel.track(rideId)).length >= 30, 'the trip on the track');
    const completed = (await api.post(`/v1/rides/${rideId}/complete`, driver.token)).body;
    const straight = distanceMeters(pickup, dropoff);
    expect(completed.distanceMeters).toBeGreaterThan(straight * 0.9);
    expect(completed.distanceMeters).toBeLessThan(straight * 1.05);

    // Playback: device-time order, no duplicates, the late point included.
    const { points } = (await api.get(`/v1/rides/${rideId}/track`, rider.token)).body as { points: { recordedAt: string }[] };
    const times = points.map((p) => Date.parse(p.recordedAt));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(new Set(times).size).toBe(times.length);
    expect(times).toContain(t0 + 5_000);

    // Crossing the named zone on the trip was recorded.
    const crossings = (await service.ctx.log.read('driver-locations')).filter((e) => e.type === 'ZoneEntered' || e.type === 'ZoneExited');
    expect(crossings.map((e) => [e.type, (e.data as { zone: string }).zone])).toEqual([['ZoneEntered', 'station'], ['ZoneExited', 'station']]);
    await watcher.close();
  });
});
