import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverDecider, type DriverCommand } from '../domain/driver/index.ts';
import { handle } from '../domain/handle.ts';
import type { LatLng } from '../domain/geo.ts';
import type { RedisGeoProjection } from '../projections/geo/redis-geo.ts';
import { testClock } from './support/clock.ts';
import { client, startService } from './support/service.ts';
import { allTransports } from './support/transports.ts';
import { waitFor } from './support/wait.ts';

/**
 * `nearby` is one query (src/app/nearby.ts) over whichever index the transport has: the rbush
 * fleet on memory and Kafka, the shared Redis GEO projection on Redis. The same fleet story must
 * give the same answer, through `GET /v1/drivers/nearby`, on every transport.
 */

const PICKUP = { lat: 38.7223, lng: -9.1393 };
/** A point `m` metres from the pickup on bearing `deg` (each driver its own bearing: no near-ties). */
const at = (m: number, deg: number): LatLng => ({
  lat: PICKUP.lat + (m * Math.cos((deg * Math.PI) / 180)) / 111_195,
  lng: PICKUP.lng + (m * Math.sin((deg * Math.PI) / 180)) / (111_195 * Math.cos((PICKUP.lat * Math.PI) / 180)),
});


describe.each(allTransports())('nearby on $name: the same fleet story, the same answer', (transport) => {
  let service: Awaited<ReturnType<typeof startService>>;
  let api: ReturnType<typeof client>;
  let geo: RedisGeoProjection | undefined;
  const clock = testClock();
  const ns = `n${process.pid}${Math.random().toString(36).slice(2, 6)}`;

  beforeAll(async () => {
    await transport.setUp();
    const infra = transport.infra();
    geo = infra.positions as RedisGeoProjection | undefined;
    service = await startService(infra, { now: clock.now });
    api = client(service.app);
  });
  afterAll(async () => {
    await service?.close();
    await transport.tearDown();
  });

  it('lists free drivers with a fresh fix, nearest first, within the radius, at most limit', async () => {
    clock.hold();
    const now = clock.now();
    const d = (name: string) => `${ns}_${name}`;
    const cmd = (driverId: string) => ({
      online: (available = true): DriverCommand => ({ type: 'SetAvailability', data: { driverId, available, at: now - 200_000 } }),
      hold: (rideId: string, expiresAt: number): DriverCommand => ({ type: 'HoldOffer', data: { driverId, rideId, expiresAt, at: now - 150_000 } }),
      assign: (rideId: string): DriverCommand => ({ type: 'AssignRide', data: { driverId, rideId, at: now - 100_000 } }),
      free: (rideId: string): DriverCommand => ({ type: 'FreeDriver', data: { driverId, rideId, at: now - 50_000 } }),
    });
    // Every driver online; what follows decides whether they are listed.
    const story: { id: string; metres: number; deg: number; fixAgoMs: number; then: DriverCommand[] }[] = [
      { id: d('a'), metres: 300, deg: 0, fixAgoMs: 2_000, then: [] },
      { id: d('b'), metres: 100, deg: 40, fixAgoMs: 1_000, then: [] },
      { id: d('c_held'), metres: 150, deg: 80, fixAgoMs: 1_000, then: [cmd(d('c_held')).hold('r_c', now + 600_000)] },
      // Its matcher died: the hold lapsed (expiry plus grace long past) without a release.
      { id: d('d_lapsed'), metres: 200, deg: 120, fixAgoMs: 1_000, then: [cmd(d('d_lapsed')).hold('r_d', now - 140_000)] },
      { id: d('e_riding'), metres: 250, deg: 160, fixAgoMs: 1_000, then: [cmd(d('e_riding')).assign('r_e')] },
      { id: d('f_finished'), metres: 400, deg: 200, fixAgoMs: 1_000, then: [cmd(d('f_finished')).assign('r_f'), cmd(d('f_finished')).free('r_f')] },
      { id: d('g_offline'), metres: 350, deg: 240, fixAgoMs: 1_000, then: [cmd(d('g_offline')).online(false)] },
      { id: d('h_stale'), metres: 120, deg: 280, fixAgoMs: 5 * 60_000, then: [] },
      { id: d('i_far'), metres: 900, deg: 320, fixAgoMs: 1_000, then: [] },
      { id: d('j'), metres: 600, deg: 20, fixAgoMs: 1_000, then: [] },
    ];
    const { log } = service.ctx;
    for (const s of story) {
      for (const c of [cmd(s.id).online(), ...s.then]) await handle(log, 'drivers', s.id, driverDecider, c);
      const p = at(s.metres, s.deg);
      await log.append('driver-locations', s.id, [
        { type: 'LocationRecorded', data: { driverId: s.id, ...p, recordedAt: now - s.fixAgoMs, heading: null, speed: null, accuracy: 5, rideId: null, late: false } },
      ]);
    }

    // Settled when every index serving this transport has folded every event of the story.
    await waitFor(async () => {
      for (const s of story) {
        const version = (await log.readKey('drivers', s.id)).length;
        const f = service.ctx.fleet.get(s.id);
        if (f?.version !== version || f.position?.recordedAt !== now - s.fixAgoMs) return false;
        if (geo) {
          const g = await geo.stateOf(s.id);
          if (g?.v !== String(version) || g.t !== String(now - s.fixAgoMs)) return false;
        }
      }
      return true;
    }, 'the story in every index', transport.patienceMs);

    const rider = await api.user('rider');
    const ask = async (radius: number, limit: number) =>
      (await api.get(`/v1/drivers/nearby?lat=${PICKUP.lat}&lng=${PICKUP.lng}&radius=${radius}&limit=${limit}`, rider.token)).body;
    const expected = (names: [string, number, number][]) => ({
      drivers: names.map(([name, metres, deg]) => ({ driverId: d(name), ...at(metres, deg), distanceMeters: metres })),
    });
    expect(await ask(800, 10)).toEqual(
      expected([['b', 100, 40], ['d_lapsed', 200, 120], ['a', 300, 0], ['f_finished', 400, 200], ['j', 600, 20]]),
    );
    expect(await ask(800, 3)).toEqual(expected([['b', 100, 40], ['d_lapsed', 200, 120], ['a', 300, 0]]));
    expect(await ask(250, 10)).toEqual(expected([['b', 100, 40], ['d_lapsed', 200, 120]]));
    expect(await service.ridecast.nearby({ ...PICKUP, radiusMeters: 1_000, limit: 10 })).toEqual(
      expected([['b', 100, 40], ['d_lapsed', 200, 120], ['a', 300, 0], ['f_finished', 400, 200], ['j', 600, 20], ['i_far', 900, 320]]).drivers,
    );
  });
});
