import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DriverEvent } from '../domain/driver/index.ts';
import type { LatLng } from '../domain/geo.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import type { RideEvent, RideOffered } from '../domain/ride/index.ts';
import { client, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';
import { connect, type LiveClient } from './support/ws.ts';

type Service = Awaited<ReturnType<typeof startService>>;
type Api = ReturnType<typeof client>;

const BASE = { lat: 38.7223, lng: -9.1393 };
let towns = 0;
/** Each scenario in its own town, far from the others' drivers. */
const nextTown = () => ({ lat: BASE.lat + 0.5 * ++towns, lng: BASE.lng });
const offset = (p: LatLng, northM: number, eastM = 0) => ({
  lat: p.lat + northM / 111_195,
  lng: p.lng + eastM / (111_195 * Math.cos((p.lat * Math.PI) / 180)),
});

const POLICIES = [
  { matching: 'nearest', env: {} },
  { matching: 'batched', env: { MATCHING: 'batched', BATCH_WINDOW_MS: '100' } },
] as const;

describe.each(POLICIES)('offer fan-out (OFFER_FANOUT=3, $matching)', ({ env: policyEnv }) => {
  let service: Service;
  let api: Api;
  const sockets: LiveClient[] = [];
  beforeAll(async () => {
    service = await startService({}, { matchPolicy: { freshnessMs: 10 * 60_000 }, retryMs: 20 }, { OFFER_FANOUT: '3', OFFER_TIMEOUT_MS: '20000', MATCH_TIMEOUT_MS: '120000', ...policyEnv });
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    api = client(service.app);
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await service.close();
  });

  async function driversAround(town: LatLng, n: number) {
    return Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const user = await api.user('driver');
        expect((await api.put('/v1/drivers/me/availability', user.token, { available: true })).status).toBe(200);
        expect((await api.post('/v1/drivers/me/locations', user.token, { ...offset(town, 100 * (i + 1)), recordedAt: Date.now() })).body).toMatchObject({ accepted: 1 });
        await waitFor(() => service.ctx.fleet.get(user.userId)?.position, 'the driver to have a position');
        const socket = await connect(service.app, user.token);
        sockets.push(socket);
        return { ...user, socket };
      }),
    );
  }

  it('offers one ride to three drivers at once; two accept together: one wins, the others are told it is withdrawn and are free again', async () => {
    const town = nextTown();
    const drivers = await driversAround(town, 3);
    const rider = await api.user('rider');
    const { rideId } = (await api.post('/v1/rides', rider.token, { pickup: town, dropoff: offset(town, 2_000) })).body;
    // Every driver is offered the ride, each one held for it.
    await Promise.all(drivers.map((d) => d.socket.next('ride.offer', (m) => m.rideId === rideId)));
    for (const d of drivers) expect(service.ctx.fleet.get(d.userId)?.offeredRideId).toBe(rideId);

    const [x, y, z] = drivers;
    const answers = await Promise.all([x!, y!].map((d) => api.post(`/v1/rides/${rideId}/accept`, d.token)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const winner = answers[0]!.status === 200 ? x! : y!;
    const losers = drivers.filter((d) => d !== winner);
    expect(answers.find((a) => a.status === 409)!.body.code).toBe('OFFER_EXPIRED');
    for (const d of losers) expect(await d.socket.next('ride.offer.withdrawn', (m) => m.rideId === rideId)).toMatchObject({ rideId, reason: 'accepted' });
    // The winner never hears of a withdrawal; the losers no longer see the ride.
    expect(winner.socket.all('ride.offer.withdrawn')).toEqual([]);
    expect((await api.get(`/v1/rides/${rideId}`, z!.token)).status).toBe(404);
    // Holds released, one driver assigned.
    await waitFor(() => losers.every((d) => service.ctx.fleet.get(d.userId)?.offeredRideId === null), 'the losers’ holds to be released');
    await waitFor(() => service.ctx.fleet.get(winner.userId)?.rideId === rideId, 'the winner to be assigned');
    const events = (await service.ctx.log.readKey('rides', rideId)) as Recorded<RideEvent>[];
    expect(events.filter((e) => e.type === 'RideOffered')).toHaveLength(3);
    expect(events.filter((e) => e.type === 'RideAccepted')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'OfferWithdrawn').map((e) => (e.data as { driverId: string }).driverId).sort()).toEqual(losers.map((d) => d.userId).sort());

    // A loser is free for the next ride at once.
    const next = (await api.post('/v1/rides', (await api.user('rider')).token, { pickup: town, dropoff: offset(town, 2_000) })).body.rideId as string;
    await Promise.all(losers.map((d) => d.socket.next('ride.offer', (m) => m.rideId === next)));
  });

  it('tops a round up to three: a ride that could hold only one driver is offered to two more as they come free, in the same round', async () => {
    const town = nextTown();
    const [first] = await driversAround(town, 1);
    const rider = await api.user('rider');
    const { rideId } = (await api.post('/v1/rides', rider.token, { pickup: town, dropoff: offset(town, 2_000) })).body;
    // Only one driver is free: the round opens with one offer (the other two holds had nobody to hold).
    await first!.socket.next('ride.offer', (m) => m.rideId === rideId);
    // Two more come free while that offer is open (20 s): they join the round rather than wait for it to end.
    const later = await driversAround(offset(town, 50), 2);
    await Promise.all(later.map((d) => d.socket.next('ride.offer', (m) => m.rideId === rideId, 10_000)));
    const events = (await service.ctx.log.readKey('rides', rideId)) as Recorded<RideEvent>[];
    const offers = events.filter((e): e is Recorded<RideOffered> => e.type === 'RideOffered');
    expect(offers.map((e) => e.data.driverId).sort()).toEqual([first!, ...later].map((d) => d.userId).sort());
    expect(new Set(offers.map((e) => e.data.round))).toEqual(new Set([1]));
    expect(events.filter((e) => e.type === 'OfferExpired' || e.type === 'OfferDeclined')).toEqual([]);
    // Never more than three: a fourth driver coming free is not offered the ride.
    const [fourth] = await driversAround(offset(town, 80), 1);
    const accepted = await api.post(`/v1/rides/${rideId}/accept`, later[0]!.token);
    expect(accepted.status).toBe(200);
    for (const d of [first!, later[1]!]) await d.socket.next('ride.offer.withdrawn', (m) => m.rideId === rideId);
    expect(fourth!.socket.all('ride.offer').filter((m) => m.rideId === rideId)).toEqual([]);
    expect(((await service.ctx.log.readKey('rides', rideId)) as Recorded<RideEvent>[]).filter((e) => e.type === 'RideOffered')).toHaveLength(3);
  });

  it('a race: 12 riders, 4 drivers accepting every offer at once; no driver ever holds two offers or carries two rides, every ride is done once', async () => {
    const town = nextTown();
    const drivers = await driversAround(town, 4);
    let done = 0;
    const RIDES = 12;
    const work = drivers.map(async (d) => {
      while (done < RIDES) {
        const offer = await d.socket.next('ride.offer', undefined, 1_000).catch(() => null);
        if (!offer) continue;
        const accepted = await api.post(`/v1/rides/${offer.rideId}/accept`, d.token);
        if (accepted.status !== 200) continue; // another driver of the fan-out won
        for (const step of ['arrive', 'start', 'complete']) expect((await api.post(`/v1/rides/${offer.rideId}/${step}`, d.token)).status, step).toBe(200);
        done++;
      }
    });
    const riders = await Promise.all(Array.from({ length: RIDES }, () => api.user('rider')));
    const request = (i: number) => api.post('/v1/rides', riders[i]!.token, { pickup: offset(town, 50 * i, -100), dropoff: offset(town, 2_000) });
    // The first ride alone, while all four drivers are free: it is offered to three, so fan-out and
    // its withdrawals surely happen once; then the other rides all at once, racing for the drivers.
    const first = await request(0);
    const withdrawn = async () => ((await service.ctx.log.read('rides')) as Recorded<RideEvent>[]).some((e) => e.metadata.key === first.body.rideId && e.type === 'OfferWithdrawn');
    await waitFor(withdrawn, 'the first ride’s other offers to be withdrawn');
    const requested = [first, ...(await Promise.all(riders.slice(1).map((_, i) => request(i + 1))))];
    expect(requested.map((r) => r.status)).toEqual(riders.map(() => 202));
    await Promise.all(work);

    const rideIds = new Set(requested.map((r) => r.body.rideId as string));
    const rides = ((await service.ctx.log.read('rides')) as Recorded<RideEvent>[]).filter((e) => rideIds.has(e.metadata.key));
    for (const rideId of rideIds) {
      expect(rides.filter((e) => e.metadata.key === rideId && e.type === 'TripCompleted')).toHaveLength(1);
      expect(rides.filter((e) => e.metadata.key === rideId && e.type === 'RideAccepted')).toHaveLength(1);
    }
    // The drivers' stream, folded: a hold or an assignment only ever starts on a free driver.
    const ids = new Set(drivers.map((d) => d.userId));
    const driverLog = ((await service.ctx.log.read('drivers')) as Recorded<DriverEvent>[]).filter((e) => ids.has(e.metadata.key));
    const state = new Map<string, { held: string | null; assigned: string | null }>();
    for (const e of driverLog) {
      const s = state.get(e.metadata.key) ?? { held: null, assigned: null };
      state.set(e.metadata.key, s);
      if (e.type === 'DriverOfferHeld') {
        expect({ event: e.metadata.eventId, ...s }).toEqual({ event: e.metadata.eventId, held: null, assigned: null });
        s.held = e.data.rideId;
      } else if (e.type === 'DriverOfferReleased' && s.held === e.data.rideId) s.held = null;
      else if (e.type === 'DriverAssigned') {
        expect({ event: e.metadata.eventId, assigned: s.assigned, held: s.held }).toEqual({ event: e.metadata.eventId, assigned: null, held: e.data.rideId });
        s.held = null;
        s.assigned = e.data.rideId;
      } else if (e.type === 'DriverFreed' && s.assigned === e.data.rideId) s.assigned = null;
    }
    expect(driverLog.filter((e) => e.type === 'DriverAssigned')).toHaveLength(RIDES);
    // Fan-out really happened: some rides had several offers open at once, and withdrawals followed.
    expect(rides.filter((e) => e.type === 'OfferWithdrawn').length).toBeGreaterThan(0);
  });
});
