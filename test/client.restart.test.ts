import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { device, north, between, recordedStream, sdkUser } from './support/sdk.ts';
import { freePort } from './support/net.ts';
import { startService } from './support/service.ts';
import { redisTransport } from './support/transports.ts';
import { waitFor } from './support/wait.ts';

type Service = Awaited<ReturnType<typeof startService>>;

describe('typed client SDK across a server restart (Redis transport)', () => {
  const transport = redisTransport();
  const namespace = `sdk-restart-${process.pid}`;
  let port: number;
  let service: Service | null = null;
  const start = async () => {
    service = await startService(transport.infra(namespace), { matchPolicy: { freshnessMs: 10 * 60_000 } });
    await service.app.listen({ port, host: '127.0.0.1' });
  };

  beforeAll(async () => {
    await transport.setUp();
    port = await freePort();
    await start();
  });
  afterAll(async () => {
    await service?.close();
    await transport.tearDown();
  });

  it('the stream resumes on the restarted server: no event missed, none twice, the trip carries on', async () => {
    const origin = `http://127.0.0.1:${port}`;
    const pickup = { lat: 38.7223, lng: -9.1393 };
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
    driverLive.stream.follow(rideId);
    await driver.rides.arrive(rideId);
    await driver.rides.start(rideId);
    await driver.drivers.reportLocations(fix(between(pickup, dropoff, 0.25)));
    await riderLive.next('driver.location', (m) => m.rideId === rideId);
    const livesBefore = riderLive.states.filter((s) => s === 'live').length;

    // Mid-trip the server goes away and comes back on the same port; state lives in Redis.
    await service!.close();
    service = null;
    await waitFor(() => riderLive.stream.state === 'reconnecting', 'the rider stream to notice');
    await start();

    await waitFor(() => riderLive.states.filter((s) => s === 'live').length > livesBefore, 'the rider stream to come back', 20_000);
    await driver.drivers.reportLocations(fix(between(pickup, dropoff, 0.6)));
    await driver.drivers.reportLocations(fix(dropoff));
    await driver.rides.complete(rideId);
    await riderLive.next('ride.status', (m) => m.event === 'PaymentCaptured', 20_000);

    const statuses = riderLive.of('ride.status').filter((m) => m.rideId === rideId);
    const events = statuses.map((m) => m.event).filter((e) => e !== 'RideRequested');
    expect(events.slice(0, 5)).toEqual(['RideOffered', 'RideAccepted', 'DriverArrived', 'TripStarted', 'TripCompleted']);
    const ids = riderLive.messages.flatMap((m) => ('eventId' in m && m.eventId ? [`${m.type}|${m.eventId}`] : []));
    expect(new Set(ids).size).toBe(ids.length);
    const fixes = riderLive.of('driver.location').map((m) => Date.parse(m.recordedAt));
    expect(fixes).toEqual([...fixes].sort((a, b) => a - b));
    expect(fixes.length).toBeGreaterThanOrEqual(2);
    expect(riderLive.gaps).toEqual([]);
    expect(await rider.rides.get(rideId)).toMatchObject({ status: 'completed', payment: { status: 'captured' } });
    riderLive.stream.close();
    driverLive.stream.close();
  });
});
