// A backend that refuses writes for longer than any delivery limit, for real: the service logs in to redis-server as
// its own ACL user, and the test makes the `drivers` stream's keys read-only for that user (ACL
// SETUSER) while a trip is completed, then gives write access back. No mock anywhere.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { diagnostics, startServer, stopAll, TEST_ADMIN, type ServerProcess } from './support/server-process.ts';
import { http, type Http } from './support/http-client.ts';
import { openSocket, type LiveSocket } from './support/live-socket.ts';
import { metric } from './support/metrics.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { waitFor } from './support/wait.ts';

const center = { lat: 38.7223, lng: -9.1393 };
const dropoff = { lat: 38.7369, lng: -9.1427 };
/** The delivery limit of the Redis adapter (maxDeliveries): a permanent failure is dead-lettered after this many. */
const DELIVERY_LIMIT = 5;

describe('reactions heal after a backend refused writes (Redis ACL, the real service)', () => {
  let redis: RedisServer;
  let raw: Redis;
  let server: ServerProcess;
  let api: Http;
  const sockets: LiveSocket[] = [];
  const prefix = `heal${process.pid}:`;
  const user = 'ridecast';
  const password = 'service-password-1';

  /** Full access to every key, or every key but the drivers stream's, which become read-only. */
  const grantAll = () => raw.call('ACL', 'SETUSER', user, 'resetkeys', '~*');
  const driversReadOnly = () =>
    raw.call('ACL', 'SETUSER', user, 'resetkeys', `~${prefix}[^{]*`, `~${prefix}{[^d]*`, `~${prefix}{driver-*`, `%R~${prefix}{drivers}*`);

  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url, { protocol: 2 });
    await raw.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all');
    server = await startServer({
      name: 'healing instance',
      env: {
        TRANSPORT: 'redis',
        REDIS_URL: `redis://${user}:${password}@127.0.0.1:${redis.port}`,
        STREAM_PREFIX: prefix,
        INSTANCE_ID: 'heal-1',
        OFFER_TIMEOUT_MS: '20000',
        // The reconciler would also free the driver; keep it out of the way to prove the retry does.
        RECONCILE_INTERVAL_MS: '3600000',
      },
    });
    api = http(server.url);
  }, 60_000);

  afterAll(async () => {
    for (const s of sockets) s.close();
    await stopAll([server]);
    raw?.disconnect();
    await redis?.stop();
  }, 30_000);

  it('a write outage on the drivers stream during `complete`, outlasting the delivery limit, leaves no driver stranded: the next nearby ride is offered to them', async () => {
    onTestFailed(() => console.error(diagnostics([server])));
    const admin = (await api.login(TEST_ADMIN.username, TEST_ADMIN.password)).token;
    const [first, second] = await Promise.all([api.user(admin, 'rider'), api.user(admin, 'rider')]);
    const driver = await api.user(admin, 'driver');
    const phone = await openSocket(server.url, driver.token);
    sockets.push(phone);
    expect((await api.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
    expect((await api.post('/v1/drivers/me/locations', driver.token, { ...center, recordedAt: Date.now() })).status).toBe(202);

    const ride = await api.post('/v1/rides', first.token, { pickup: center, dropoff });
    expect(ride.status).toBe(202);
    const rideId = ride.body.rideId as string;
    await phone.waitFor((m) => m.type === 'ride.offer' && m.rideId === rideId, 'the first offer');
    for (const step of ['accept', 'arrive', 'start']) expect((await api.post(`/v1/rides/${rideId}/${step}`, driver.token)).status).toBe(200);
    const failuresBefore = await metric(server.url, 'ridecast_handler_failures_total', { consumer: 'reactions' });

    // The outage: whatever the service writes to the drivers stream is refused (NOPERM) until the
    // reaction that frees the driver has failed more often than the delivery limit (a few seconds of
    // backoff): a handler that gave up after the limit would have dead-lettered it by then.
    await driversReadOnly();
    const outageFrom = Date.now();
    try {
      expect((await api.post(`/v1/rides/${rideId}/complete`, driver.token)).status).toBe(200);
      await waitFor(
        async () => (await metric(server.url, 'ridecast_handler_failures_total', { consumer: 'reactions' })) > failuresBefore + DELIVERY_LIMIT,
        'the reaction to TripCompleted to fail more often than the delivery limit',
        30_000,
        50,
      );
    } finally {
      await grantAll();
    }
    const outageMs = Date.now() - outageFrom;

    // The driver is back near the next rider, who asks for a ride once the outage has ended.
    expect((await api.post('/v1/drivers/me/locations', driver.token, { ...center, recordedAt: Date.now() })).status).toBe(202);
    const next = await api.post('/v1/rides', second.token, { pickup: { lat: center.lat + 0.0005, lng: center.lng }, dropoff });
    expect(next.status).toBe(202);
    const offer = await phone.waitFor((m) => m.type === 'ride.offer' && m.rideId === next.body.rideId, 'the next ride offered to the driver', 30_000);

    const transient = await metric(server.url, 'ridecast_handler_failures_total', { consumer: 'reactions', kind: 'transient' });
    const deadLetters = await raw.xlen(`${prefix}{rides}:dead`);
    console.info(`[heal/acl-outage] drivers stream read-only for ${outageMs} ms; the reaction failed ${transient} times (transient) and was retried; dead letters ${deadLetters}; next ride offered to the driver: ${offer.rideId}`);
    expect(transient).toBeGreaterThan(DELIVERY_LIMIT);
    expect(deadLetters).toBe(0);
    await waitFor(async () => (await metric(server.url, 'ridecast_handler_retrying_events', { consumer: 'reactions' })) === 0, 'no reaction left retrying', 10_000, 100);
  }, 90_000);
});
