import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { getInMemoryClaims } from '../adapters/memory/claims.ts';
import { getInMemoryUserStore } from '../adapters/memory/users.ts';
import type { UserStore } from '../domain/ports/users.ts';
import { ADMIN, client, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';

/** Issue 13, item 6: holes each too small for a section of its own, each closed at its root. */

const pickup = { lat: 38.7223, lng: -9.1393 };
const dropoff = { lat: 38.7369, lng: -9.1427 };

/** A user store that can lose everything, as Redis does when it restarts without persistence. */
function forgetfulUsers(): UserStore & { forgetAll(): void } {
  let store = getInMemoryUserStore();
  return {
    create: (u) => store.create(u),
    findById: (id) => store.findById(id),
    findByUsername: (name) => store.findByUsername(name),
    forgetAll: () => void (store = getInMemoryUserStore()),
  };
}

describe('smaller holes', () => {
  let service: Awaited<ReturnType<typeof startService>>;
  let api: ReturnType<typeof client>;
  const users = forgetfulUsers();
  let offset = 0;
  /** Set while a test needs the service's clock to stand still. */
  let frozen: number | null = null;
  const now = () => frozen ?? Date.now() + offset;
  const counts = async () => Promise.all((['rides', 'drivers', 'driver-locations'] as const).map(async (s) => (await service.ctx.log.read(s)).length));

  beforeAll(async () => {
    service = await startService({ users }, { now }, { LOCATION_POINTS_PER_SECOND: '20', LOCATION_POINTS_BURST: '100' });
    api = client(service.app);
    await service.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('a driver who went offline cannot accept the offer they still hold', async () => {
    const rider = await api.user('rider');
    const driver = await api.user('driver');
    expect((await api.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
    expect((await api.post('/v1/drivers/me/locations', driver.token, { ...pickup, recordedAt: now() - 1_000 })).status).toBe(202);
    const { rideId } = (await api.post('/v1/rides', rider.token, { pickup, dropoff })).body;
    await waitFor(async () => (await api.get(`/v1/rides/${rideId}`, driver.token)).body.status === 'offered', 'the offer');
    expect((await api.put('/v1/drivers/me/availability', driver.token, { available: false })).body.available).toBe(false);
    const before = await counts();
    expect(await api.post(`/v1/rides/${rideId}/accept`, driver.token)).toMatchObject({
      status: 409,
      body: { statusCode: 409, code: 'DRIVER_OFFLINE', error: 'Conflict' },
    });
    expect(await counts()).toEqual(before);
    expect((await api.get(`/v1/rides/${rideId}`, rider.token)).body.status).toBe('offered');
  });

  it('limits the points a driver sends per second across requests and transports, with 429 TOO_MANY_POINTS', async () => {
    const driver = await api.user('driver');
    // The clock stands still, so no point refills the bucket while the test runs; then it jumps 5 s.
    const t = (frozen = now());
    const batch = (from: number) => ({ points: Array.from({ length: 50 }, (_, i) => ({ ...pickup, recordedAt: t - 200_000 + (from + i) * 1_000 })) });
    expect((await api.post('/v1/drivers/me/locations', driver.token, batch(0))).status).toBe(202);
    expect((await api.post('/v1/drivers/me/locations', driver.token, batch(50))).status).toBe(202);
    const before = await counts();
    const refused = await api.post('/v1/drivers/me/locations', driver.token, batch(100));
    expect(refused).toMatchObject({ status: 429, body: { statusCode: 429, code: 'TOO_MANY_POINTS', error: 'Too Many Requests' } });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The socket draws on the same bucket.
    const port = (service.app.server.address() as AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`, { headers: { authorization: `Bearer ${driver.token}` } });
    const answers: { type: string; code?: string }[] = [];
    ws.on('message', (d) => answers.push(JSON.parse(d.toString()) as { type: string; code?: string }));
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    ws.send(JSON.stringify({ type: 'location', ...pickup, recordedAt: t - 1_000 }));
    await waitFor(() => answers.length > 0, 'the answer');
    expect(answers[0]).toMatchObject({ type: 'error', code: 'TOO_MANY_POINTS' });
    ws.close();
    expect(await counts()).toEqual(before);
    // Five seconds later (on the service's clock) the bucket has refilled by 100 points.
    frozen = t + 5_000;
    expect((await api.post('/v1/drivers/me/locations', driver.token, batch(100))).status).toBe(202);
    frozen = null;
  });

  it('refuses a valid token whose account is gone with 401 ACCOUNT_GONE, and re-creates the configured admin', async () => {
    const rider = await api.user('rider');
    const oldAdmin = await api.login(ADMIN.username, ADMIN.password);
    expect((await api.get('/v1/rides/r_nothere', rider.token)).status).toBe(404);
    users.forgetAll();
    const gone = { statusCode: 401, code: 'ACCOUNT_GONE', error: 'Unauthorized' };
    expect(await api.get('/v1/rides/r_nothere', rider.token)).toMatchObject({ status: 401, body: gone });
    expect(await api.post('/v1/rides', rider.token, { pickup, dropoff })).toMatchObject({ status: 401, body: gone });
    expect(await api.post('/v1/auth/refresh', rider.token)).toMatchObject({ status: 401, body: gone });
    // The socket too.
    const port = (service.app.server.address() as AddressInfo).port;
    const upgrade = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream?access_token=${rider.token}`);
      ws.once('open', () => reject(new Error('the socket opened')));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.once('error', (err) => /Unexpected server response/.test(err.message) || reject(err));
    });
    expect(upgrade.status).toBe(401);
    expect(JSON.parse(upgrade.body)).toMatchObject(gone);
    // The configured admin logs in again (re-created), under a new id: the old admin token is refused.
    const admin = await api.login(ADMIN.username, ADMIN.password);
    expect(admin.userId).not.toBe(oldAdmin.userId);
    expect(await api.post('/v1/users', oldAdmin.token, { username: 'someone', password: 'password-123', role: 'rider' })).toMatchObject({ status: 401, body: gone });
    expect((await api.post('/v1/users', admin.token, { username: 'someone', password: 'password-123', role: 'rider' })).status).toBe(201);
  });

  it('refuses a recordedAt that is not a day of the calendar, with 400 VALIDATION_ERROR naming it', async () => {
    const driver = await api.user('driver');
    for (const recordedAt of ['2026-02-30T10:00:00Z', '2025-02-29T10:00:00Z', '2026-04-31T00:00:00Z', '2026-01-01T24:00:00Z', '2026-06-00T10:00:00Z']) {
      const res = await api.post('/v1/drivers/me/locations', driver.token, { ...pickup, recordedAt });
      expect(res, recordedAt).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR' } });
      expect(res.body.message).toContain('body.recordedAt');
    }
    // A real leap day is a date (too old to be used, but not malformed).
    const leap = await api.post('/v1/drivers/me/locations', driver.token, { ...pickup, recordedAt: '2024-02-29T10:00:00Z' });
    expect(leap).toMatchObject({ status: 202, body: { accepted: 0, rejections: [{ code: 'STALE_POINT' }] } });
  });
});

describe('the memory claims store', () => {
  it('drops expired claims by itself, so idempotency keys do not pile up', async () => {
    let t = 0;
    const claims = getInMemoryClaims(() => t);
    for (let i = 0; i < 1_000; i++) await claims.claim(`idem:${i}`, 'r', 60_000);
    await claims.claim('active:u_1', 'r_1');
    expect(claims.size()).toBe(1_001);
    t += 61_000;
    // Any later use sweeps: the thousand expired keys go without being asked for one by one.
    await claims.release('something-else', 'r');
    expect(claims.size()).toBe(1);
    expect(await claims.claim('active:u_1', 'r_2')).toBe('r_1'); // held: answers the holder, takes nothing
  });
});
