import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Recorded } from '../domain/ports/event-log.ts';
import { driverLostReason } from '../src/app/reconciler.ts';
import { testClock } from './support/clock.ts';
import { client, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';

const base = { lat: 38.7223, lng: -9.1393 };
const dropoff = { lat: 38.7369, lng: -9.1427 };
const LOST_MS = 300_000;
const INTERVAL_MS = 3_600_000;

type Service = Awaited<ReturnType<typeof startService>>;

/** A ride taken by a fresh driver up to `status`, the driver's only fix at the service's now. */
async function rideUnderWay(service: Service, api: ReturnType<typeof client>, where: { lat: number; lng: number }, status: 'accepted' | 'in_progress') {
  const rider = await api.user('rider');
  const driver = await api.user('driver');
  expect((await api.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
  expect((await api.post('/v1/drivers/me/locations', driver.token, { ...where, recordedAt: service.ctx.clock.now() })).body.accepted).toBe(1);
  await waitFor(() => service.ctx.fleet.get(driver.userId)?.position, 'the driver on the map');
  const { rideId } = (await api.post('/v1/rides', rider.token, { pickup: where, dropoff })).body as { rideId: string };
  await waitFor(async () => (await api.get(`/v1/rides/${rideId}`, driver.token)).body.status === 'offered', 'the offer');
  expect((await api.post(`/v1/rides/${rideId}/accept`, driver.token)).status).toBe(200);
  if (status === 'in_progress') expect((await api.post(`/v1/rides/${rideId}/start`, driver.token)).status).toBe(200);
  await waitFor(() => service.ctx.fleet.get(driver.userId)?.rideId === rideId, 'the driver assigned');
  return { rider, driver, rideId };
}

describe('the reconciler (injected clock)', () => {
  let service: Service;
  let api: ReturnType<typeof client>;
  // Runs with real time while rides are set up, then is held and moved only by the test: how long
  // the set-up took (a loaded machine) never decides which driver counts as lost.
  const clock = testClock();

  beforeAll(async () => {
    service = await startService({}, { clock }, { RECONCILE_INTERVAL_MS: String(INTERVAL_MS), DRIVER_LOST_MS: String(LOST_MS) });
    api = client(service.app);
  });
  afterAll(async () => service?.close());
  afterEach(() => clock.release());

  it('cancels a ride under way whose driver sent no location for DRIVER_LOST_MS, with a reason its rider sees, and frees the driver', async () => {
    const setUpFrom = clock.now();
    const lost = await rideUnderWay(service, api, base, 'accepted');
    const reporting = await rideUnderWay(service, api, { lat: base.lat + 0.01, lng: base.lng }, 'in_progress');
    const stranded = await rideUnderWay(service, api, { lat: base.lat - 0.01, lng: base.lng }, 'in_progress'); // a simulator stopped mid-trip

    clock.hold();
    const setUpTo = clock.now();
    // Every fix and acceptance is newer than setUpFrom: one millisecond short of DRIVER_LOST_MS after it, nobody is lost yet.
    clock.advance(setUpFrom + LOST_MS - 1 - setUpTo);
    expect(await service.ridecast.reconciler.runOnce()).toEqual({ freed: [], cancelled: [] });

    clock.advance(setUpTo + LOST_MS + 5_000 - clock.now());
    const fix = { lat: base.lat + 0.0101, lng: base.lng, recordedAt: service.ctx.clock.now() };
    expect((await api.post('/v1/drivers/me/locations', reporting.driver.token, fix)).body.accepted).toBe(1);
    await waitFor(() => service.ctx.fleet.get(reporting.driver.userId)?.position?.recordedAt === fix.recordedAt, 'the fresh fix');
    const repairs = await service.ridecast.reconciler.runOnce();
    expect(repairs.cancelled.sort()).toEqual([lost.rideId, stranded.rideId].sort());

    for (const { rider, rideId, driver } of [lost, stranded]) {
      expect((await api.get(`/v1/rides/${rideId}`, rider.token)).body.status).toBe('cancelled');
      const last = (await service.ctx.log.readKey('rides', rideId)).at(-1) as Recorded;
      expect(last).toMatchObject({ type: 'RideCancelled', data: { by: 'system', reason: driverLostReason(LOST_MS) } });
      await waitFor(() => service.ctx.fleet.get(driver.userId)?.rideId === null, 'the lost driver freed');
    }
    expect((await api.get(`/v1/rides/${reporting.rideId}`, reporting.rider.token)).body.status).toBe('in_progress');
  });

  it('frees a driver still assigned to a ride that ended (its reaction was lost), after giving the reaction an interval; the next ride is offered to them', async () => {
    const { driver, rideId } = await rideUnderWay(service, api, { lat: base.lat + 0.02, lng: base.lng }, 'in_progress');
    expect((await api.post(`/v1/rides/${rideId}/complete`, driver.token)).status).toBe(200);
    await waitFor(() => service.ctx.fleet.get(driver.userId)?.rideId === null, 'the reaction to free the driver');
    // A late assignment lands after the release (reactions racing on two instances): the driver is
    // assigned to a ride that has ended, and no event will ever free them again.
    const history = await service.ctx.log.readKey('drivers', driver.userId);
    await service.ctx.log.append('drivers', driver.userId, [{ type: 'DriverAssigned', data: { driverId: driver.userId, rideId, at: service.ctx.clock.now() } }], { expectedVersion: history.length });
    await waitFor(() => service.ctx.fleet.get(driver.userId)?.rideId === rideId, 'the stranded driver');

    expect((await service.ridecast.reconciler.runOnce()).freed).toEqual([]);
    clock.advance(INTERVAL_MS + 1_000); // (rides of the test before, their drivers silent for an hour, are cancelled meanwhile)
    expect((await service.ridecast.reconciler.runOnce()).freed).toEqual([driver.userId]);
    await waitFor(() => service.ctx.fleet.get(driver.userId)?.rideId === null, 'the driver freed');
    expect((await service.ctx.log.readKey('drivers', driver.userId)).at(-1)).toMatchObject({ type: 'DriverFreed', data: { rideId } });

    const where = { lat: base.lat + 0.0201, lng: base.lng };
    expect((await api.post('/v1/drivers/me/locations', driver.token, { ...where, recordedAt: service.ctx.clock.now() })).body.accepted).toBe(1);
    const rider = await api.user('rider');
    const next = (await api.post('/v1/rides', rider.token, { pickup: where, dropoff })).body.rideId as string;
    await waitFor(async () => (await api.get(`/v1/rides/${next}`, driver.token)).body.status === 'offered', 'the next ride offered to the freed driver');
  });
});

describe('the reconciler on its own timer (RECONCILE_INTERVAL_MS, DRIVER_LOST_MS)', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService({}, {}, { RECONCILE_INTERVAL_MS: '200', DRIVER_LOST_MS: '1000' });
  });
  afterAll(async () => service?.close());

  it('ends a ride left open when its driver stopped reporting (a simulator stopped mid-trip)', async () => {
    const api = client(service.app);
    const { rideId, rider } = await rideUnderWay(service, api, base, 'in_progress');
    await waitFor(async () => (await api.get(`/v1/rides/${rideId}`, rider.token)).body.status === 'cancelled', 'the periodic pass to cancel the ride', 10_000);
    expect((await service.ctx.log.readKey('rides', rideId)).at(-1)).toMatchObject({ type: 'RideCancelled', data: { by: 'system', reason: driverLostReason(1_000) } });
  });
});
