import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { client, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';

/**
 * A driver who never moves during the trip, and sends every kind of forged point meant to stretch
 * it (late zig-zags, backwards batches, second positions for the same instants, teleports, points
 * exactly at the trip's start and end), over HTTP and over the socket: charged the minimum fare.
 * The service's clock is moved on by two minutes during the trip, so the points' device times lie
 * inside a trip long enough for the forgery to matter.
 */

const pickup = { lat: 38.7223, lng: -9.1393 };
const dropoff = { lat: 38.7369, lng: -9.1427 };
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const TRIP_S = 120;

const near = (east: number, north: number, recordedAt: number) => ({
  lat: pickup.lat + north / M_PER_DEG,
  lng: pickup.lng + east / (M_PER_DEG * Math.cos((pickup.lat * Math.PI) / 180)),
  recordedAt: Math.round(recordedAt),
  accuracy: 5,
});

describe('a parked driver forging a long trip', () => {
  let service: Awaited<ReturnType<typeof startService>>;
  let api: ReturnType<typeof client>;
  let offset = 0;
  const now = () => Date.now() + offset;

  beforeAll(async () => {
    service = await startService({}, { now }, { LOCATION_POINTS_PER_SECOND: '100000', LOCATION_POINTS_BURST: '100000' });
    api = client(service.app);
    await service.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('is charged the minimum fare, whatever points they send', async () => {
    const rider = await api.user('rider');
    const driver = await api.user('driver');
    expect((await api.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
    expect((await api.post('/v1/drivers/me/locations', driver.token, near(0, 0, now() - 1_000))).status).toBe(202);
    const { rideId } = (await api.post('/v1/rides', rider.token, { pickup, dropoff })).body;
    await waitFor(async () => (await api.get(`/v1/rides/${rideId}`, driver.token)).body.status === 'offered', 'the offer');
    expect((await api.post(`/v1/rides/${rideId}/accept`, driver.token)).status).toBe(200);
    await waitFor(() => service.ctx.fleet.get(driver.userId)?.rideId === rideId, 'the driver to be assigned');
    const started = await api.post(`/v1/rides/${rideId}/start`, driver.token);
    expect(started.body.status).toBe('in_progress');
    const t0 = Date.parse(started.body.startedAt);
    offset += TRIP_S * 1_000;

    let accepted = 0;
    /** Device times of the accepted points: the track (one point per instant) must hold them all before completing. */
    const instants = new Set<number>();
    const send = async (points: { recordedAt: number }[]) => {
      for (let i = 0; i < points.length; i += 100) {
        const batch = points.slice(i, i + 100);
        const res = await api.post('/v1/drivers/me/locations', driver.token, { points: batch });
        expect(res.status, JSON.stringify(res.body)).toBe(202);
        accepted += res.body.accepted;
        const refused = new Set((res.body.rejections as { index: number }[]).map((r) => r.index));
        batch.forEach((p, j) => refused.has(j) || instants.add(p.recordedAt));
      }
    };
    // The real fixes: parked at the pickup, ±3 m of jitter, one a second.
    let seed = 3;
    const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 6;
    const real = Array.from({ length: TRIP_S + 1 }, (_, s) => near(noise(), noise(), t0 + s * 1_000));
    await send(real);
    expect(accepted).toBe(real.length);

    // Late zig-zags 300 m and 40 m wide between the real fixes, one batch sorted backwards.
    const zigzag = (amplitude: number) => Array.from({ length: TRIP_S }, (_, s) => near(s % 2 ? amplitude : -amplitude, 0, t0 + s * 1_000 + 500));
    await send(zigzag(150));
    await send(zigzag(20).reverse());
    // Other positions for the very instants of the real fixes.
    await send(real.map((p, i) => ({ ...p, lng: p.lng + (i % 2 ? 1 : -1) * 0.0025 })));
    // Teleports, and points exactly at the trip's start and end, over the driver's socket.
    const port = (service.app.server.address() as AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`, { headers: { authorization: `Bearer ${driver.token}` } });
    const acks: { accepted: number; rejected: number }[] = [];
    const overSocket = [
      near(5_000, 0, t0 + 30_400), near(-5_000, 0, t0 + 60_400), near(300, 0, t0), near(-300, 0, t0 + TRIP_S * 1_000),
      near(0, 300, t0 - 400), near(300, 300, now()),
    ];
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { type: string; accepted: number; rejected: number };
      if (m.type !== 'location.ack') return;
      if (m.accepted) instants.add(overSocket[acks.length]!.recordedAt);
      acks.push(m);
    });
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    // One at a time, so each answer is known to be for its point.
    for (const [i, p] of overSocket.entries()) {
      ws.send(JSON.stringify({ type: 'location', ...p }));
      await waitFor(() => acks.length === i + 1, 'the socket point to be answered');
    }
    ws.close();
    accepted += acks.reduce((n, a) => n + a.accepted, 0);

    await waitFor(async () => {
      const stored = new Set((await service.ctx.readModel.track(rideId)).map((p) => p.recordedAt));
      return [...instants].every((t) => stored.has(t));
    }, 'the track to hold every accepted point');
    const completed = await api.post(`/v1/rides/${rideId}/complete`, driver.token);
    expect(completed.status).toBe(200);
    expect(completed.body.distanceMeters).toBeLessThan(20);
    expect(completed.body.fare).toEqual({ amount: service.config.tariff.minimum, currency: 'EUR' });
  });
});
