import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startService } from './support/service.ts';
import { allTransports, type TestTransport } from './support/transports.ts';
import { waitFor as waitUntil } from './support/wait.ts';

const pickup = { lat: 38.7223, lng: -9.1393 };
const dropoff = { lat: 38.7369, lng: -9.1427 };

// Both dispatch policies on every transport, and batched with offer fan-out (OFFER_FANOUT=3); the
// batched window is short to keep the test quick.
const POLICY_ENV = {
  nearest: {},
  batched: { MATCHING: 'batched', BATCH_WINDOW_MS: '100' },
  'batched, fan-out 3': { MATCHING: 'batched', BATCH_WINDOW_MS: '100', OFFER_FANOUT: '3' },
} as const;
type Matching = keyof typeof POLICY_ENV;
type Service = Awaited<ReturnType<typeof startService>>;
const policies = Object.keys(POLICY_ENV) as Matching[];
// One server per transport for the file; each service has a namespace of its own on it.
const transports = allTransports();
const cases = transports.flatMap((transport) => policies.map((matching) => ({ matching, transport, name: transport.name })));

/**
 * The services, each started once. On Kafka a service's start is five consumer-group joins one
 * after the other, each held 3 s by the mock (15 s a service): there the first case starts the
 * services of all three policies at once, so their joins overlap (each waits in its own groups,
 * nothing is shared but the broker). Memory and Redis start each service when its case begins.
 */
const services = new Map<string, Promise<Service>>();
const transportsUp = new Map<TestTransport, Promise<void>>();
const serviceFor = (transport: TestTransport, matching: Matching): Promise<Service> => {
  const first = !transportsUp.has(transport);
  const up = transportsUp.get(transport) ?? transportsUp.set(transport, transport.setUp()).get(transport)!;
  const start = (m: Matching) => {
    const key = `${transport.name}/${m}`;
    if (!services.has(key)) {
      const started = up.then(() => startService(transport.infra(), {}, POLICY_ENV[m]));
      started.catch(() => undefined); // reported by the case that awaits it
      services.set(key, started);
    }
    return services.get(key)!;
  };
  if (first && transport.name === 'kafka') for (const m of policies) void start(m);
  return start(matching);
};
const closeService = async (transport: TestTransport, matching: Matching) => {
  const key = `${transport.name}/${matching}`;
  const started = services.get(key);
  services.delete(key);
  await (await started?.catch(() => null))?.close();
};
// Whatever a filtered or failed run left started, then the servers.
afterAll(async () => {
  await Promise.all([...services.values()].map(async (started) => (await started.catch(() => null))?.close()));
  services.clear();
  await Promise.all(transports.map((t) => (transportsUp.has(t) ? t.tearDown() : undefined)));
});

describe.each(cases)('a whole ride through HTTP alone on $name, matching $matching', ({ matching, transport }) => {
  let service: Service;
  let api: ReturnType<typeof client>;
  const waitFor = <T>(check: () => T | Promise<T>, what: string) => waitUntil(check, what, transport.patienceMs);
  beforeAll(async () => {
    service = await serviceFor(transport, matching);
    api = client(service.app);
  });
  afterAll(async () => {
    await closeService(transport, matching);
  });

  const eventCount = async () => (await service.ctx.log.read('rides')).length + (await service.ctx.log.read('drivers')).length;

  it('goes requested → offered → accepted → arrived → in_progress → completed, is paid and rated once', async () => {
    const rider = await api.user('rider');
    const driver = await api.user('driver');
    expect((await api.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
    const t0 = Date.now();
    const located = await api.post('/v1/drivers/me/locations', driver.token, { lat: 38.723, lng: -9.14, recordedAt: t0 - 50_000 });
    expect(located).toMatchObject({ status: 202, body: { accepted: 1, rejected: 0 } });

    const requested = await api.post('/v1/rides', rider.token, { pickup, dropoff });
    expect(requested).toMatchObject({ status: 202, body: { status: 'requested' } });
    const { rideId } = requested.body;

    const offered = await waitFor(async () => {
      const r = await api.get(`/v1/rides/${rideId}`, driver.token);
      return r.status === 200 && r.body.status === 'offered' && r.body;
    }, 'the offer to reach the driver');
    expect(offered.driverId).toBeNull();

    const accepted = await api.post(`/v1/rides/${rideId}/accept`, driver.token);
    expect(accepted).toMatchObject({ status: 200, body: { status: 'accepted', driverId: driver.userId } });
    expect(accepted.body.acceptedAt).toEqual(expect.any(String));

    expect((await api.post(`/v1/rides/${rideId}/arrive`, driver.token)).body.status).toBe('arrived');
    expect((await api.post(`/v1/rides/${rideId}/start`, driver.token)).body.status).toBe('in_progress');
    // The trip, a few fixes towards the dropoff.
    await waitFor(() => service.ctx.fleet.get(driver.userId)?.rideId === rideId, 'the driver to be assigned');
    const points = Array.from({ length: 5 }, (_, i) => ({
      lat: pickup.lat + ((dropoff.lat - pickup.lat) * (i + 1)) / 5,
      lng: pickup.lng + ((dropoff.lng - pickup.lng) * (i + 1)) / 5,
      recordedAt: t0 - 50_000 + 10_000 * (i + 1),
    }));
    expect((await api.post('/v1/drivers/me/locations', driver.token, { points })).body.accepted).toBe(5);
    await waitFor(async () => (await service.ctx.readModel.track(rideId)).length >= 5, 'the trip track');

    const completed = await api.post(`/v1/rides/${rideId}/complete`, driver.token);
    expect(completed).toMatchObject({ status: 200, body: { status: 'completed' } });
    expect(completed.body.distanceMeters).toBeGreaterThan(1_000);

    const paid = await waitFor(async () => {
      const r = await api.get(`/v1/rides/${rideId}`, rider.token);
      return r.body.payment?.status === 'captured' && r.body;
    }, 'the payment to be captured');
    expect(paid.fare).toEqual({ amount: expect.any(Number), currency: 'EUR' });
    expect(paid.fare.amount).toBeGreaterThanOrEqual(5);
    expect(service.ledger.charges()).toEqual([{ rideId, amount: paid.fare.amount, currency: 'EUR' }]);

    const rated = await api.post(`/v1/rides/${rideId}/rating`, rider.token, { stars: 5, comment: 'smooth' });
    expect(rated).toMatchObject({ status: 201, body: { rating: { stars: 5, comment: 'smooth' } } });
    const before = await eventCount();
    expect(await api.post(`/v1/rides/${rideId}/rating`, rider.token, { stars: 4 })).toMatchObject({
      status: 409,
      body: { statusCode: 409, code: 'ALREADY_RATED', error: 'Conflict' },
    });
    expect(await eventCount()).toBe(before);

    const track = await api.get(`/v1/rides/${rideId}/track`, rider.token);
    expect(track.body.points.map((p: { recordedAt: string }) => p.recordedAt)).toEqual(
      [...track.body.points.map((p: { recordedAt: string }) => p.recordedAt)].sort(),
    );
    // The driver is free again for the next rider.
    await waitFor(() => service.ctx.fleet.get(driver.userId)?.rideId === null, 'the driver to be freed');
  });

  it('answers bad input, missing tokens, wrong roles and other riders without appending anything', async () => {
    const rider = await api.user('rider');
    const other = await api.user('rider');
    const driver = await api.user('driver');
    // Far from the first test's driver, so no offer lands while we count.
    const far = { lat: 41.1496, lng: -8.611 };
    const { rideId } = (await api.post('/v1/rides', rider.token, { pickup: far, dropoff })).body;
    await waitFor(async () => (await service.ctx.log.readKey('rides', rideId)).length > 0, 'the ride');
    // Only these users' events: on a broker, the previous test's reactions may still be landing.
    const mine = new Set([rideId, driver.userId]);
    const eventCount = async () => {
      const rides = await service.ctx.log.read('rides');
      const drivers = await service.ctx.log.read('drivers');
      const riders = new Set([rider.userId, other.userId]);
      return [...rides, ...drivers].filter(
        (e) => mine.has(e.metadata.key) || (e.type === 'RideRequested' && riders.has((e.data as { riderId: string }).riderId)),
      ).length;
    };
    const before = await eventCount();

    expect(await api.post('/v1/rides', rider.token, { pickup: { lat: 91, lng: 0 }, dropoff })).toEqual({
      status: 400,
      headers: expect.anything(),
      body: { statusCode: 400, code: 'VALIDATION_ERROR', error: 'Bad Request', message: 'body.pickup.lat must be <= 90' },
    });
    expect((await api.post('/v1/rides', rider.token, { dropoff })).body.message).toBe("body.pickup must have required property 'pickup'");
    expect((await api.post('/v1/rides', undefined, { pickup, dropoff })).body).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' });
    expect((await api.post('/v1/rides', 'not-a-token', { pickup, dropoff })).status).toBe(401);
    expect((await api.post('/v1/rides', driver.token, { pickup, dropoff })).body).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' });
    expect((await api.post('/v1/rides', rider.token, { pickup, dropoff })).body).toMatchObject({ statusCode: 409, code: 'RIDE_IN_PROGRESS' });

    const peek = await api.get(`/v1/rides/${rideId}`, other.token);
    expect(peek.body).toEqual({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: `ride ${rideId} not found` });
    expect((await api.post(`/v1/rides/${rideId}/cancel`, other.token)).status).toBe(404);
    expect((await api.post(`/v1/rides/${rideId}/start`, driver.token)).status).toBe(404);
    expect((await api.post(`/v1/rides/${rideId}/rating`, rider.token, { stars: 9 })).body.code).toBe('VALIDATION_ERROR');
    expect(await eventCount()).toBe(before);

    expect((await api.post(`/v1/rides/${rideId}/cancel`, rider.token, { reason: 'changed my mind' })).body.status).toBe('cancelled');
    const after = await eventCount();
    expect(await api.post(`/v1/rides/${rideId}/cancel`, rider.token)).toMatchObject({
      status: 409,
      body: { code: 'INVALID_TRANSITION', message: `ride ${rideId} is cancelled; cannot cancel` },
    });
    expect(await eventCount()).toBe(after);
  });

  it('gives the same ride for the same Idempotency-Key, with one event', async () => {
    const rider = await api.user('rider');
    const headers = { 'idempotency-key': 'k-123' };
    const first = await api.post('/v1/rides', rider.token, { pickup, dropoff }, headers);
    const again = await api.post('/v1/rides', rider.token, { pickup, dropoff }, headers);
    expect(again.body.rideId).toBe(first.body.rideId);
    const requests = (await service.ctx.log.read('rides')).filter((e) => e.type === 'RideRequested' && e.metadata.key === first.body.rideId);
    expect(requests).toHaveLength(1);
  });
});
