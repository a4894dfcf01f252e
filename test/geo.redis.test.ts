import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRandom } from '../src/simulator/random.ts';
import type { DriverEvent } from '../domain/driver/index.ts';
import { distanceMeters, type LatLng } from '../domain/geo.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import type { LocationRecorded } from '../domain/tracking/events.ts';
import { makeFleet } from '../projections/fleet/index.ts';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { makeRedisGeoProjection, type RedisGeoOptions } from '../projections/geo/redis-geo.ts';
import { rebuildDriverPositions } from '../projections/rebuild.ts';
import { startRedis, type RedisServer } from './support/redis.ts';

// ---- event builders -------------------------------------------------------------------------

let position = 0;
const meta = (stream: 'drivers' | 'driver-locations', key: string, version: number, at: number) => {
  const p = String(++position);
  return { eventId: `${stream}:${p}`, stream, position: p, key, version, recordedAtMs: at };
};

/** One driver's `drivers` stream, versions counted per driver as the log does. */
function driverStream(driverId: string) {
  let version = 0;
  const ev = (type: DriverEvent['type'], data: Record<string, unknown>, at = T0): Recorded<DriverEvent> =>
    ({ type, data: { driverId, at, ...data }, metadata: meta('drivers', driverId, ++version, at) }) as Recorded<DriverEvent>;
  return {
    online: (available = true) => ev('DriverAvailabilityChanged', { available }),
    hold: (rideId: string) => ev('DriverOfferHeld', { rideId, expiresAt: T0 + 15_000 }),
    release: (rideId: string) => ev('DriverOfferReleased', { rideId }),
    assign: (rideId: string) => ev('DriverAssigned', { rideId }),
    free: (rideId: string) => ev('DriverFreed', { rideId }),
  };
}

const fix = (driverId: string, p: LatLng, recordedAt: number): Recorded<LocationRecorded> => ({
  type: 'LocationRecorded',
  data: { driverId, lat: p.lat, lng: p.lng, recordedAt, heading: null, speed: null, accuracy: 5, rideId: null, late: false },
  metadata: meta('driver-locations', driverId, 0, recordedAt + 50),
});

// ---- randomness and brute force -------------------------------------------------------------

/** A random point in a box of `sizeM` metres around `center`. */
const scatter = (random: () => number, center: LatLng, sizeM: number): LatLng => ({
  lat: center.lat + ((random() - 0.5) * sizeM) / 111_195,
  lng: center.lng + ((random() - 0.5) * sizeM) / (111_195 * Math.cos((center.lat * Math.PI) / 180)),
});

interface Placed {
  driverId: string;
  at: LatLng;
  eligible: boolean;
  held?: boolean;
}

/** Every eligible driver by haversine distance, nearest first. */
const bruteForce = (drivers: readonly Placed[], from: LatLng) =>
  drivers
    .filter((d) => d.eligible)
    .map((d) => ({ driverId: d.driverId, distanceM: distanceMeters(from, d.at) }))
    .sort((a, b) => a.distanceM - b.distanceM);

/**
 * An index's answer agrees with the brute-force scan: only eligible drivers, the i-th result as far
 * as the true i-th nearest (so nothing nearer was missed and the order is right), and all the
 * drivers within the radius when fewer than `limit` came back. `tolerance(d)` absorbs the index's
 * own metric (Redis: another earth radius and 52-bit geohash cells; rbush: a planar projection).
 */
function expectAgreement(
  found: readonly { driverId: string }[],
  drivers: readonly Placed[],
  from: LatLng,
  radiusM: number,
  limit: number,
  tolerance: (d: number) => number,
) {
  const byId = new Map(drivers.map((d) => [d.driverId, d]));
  const truth = bruteForce(drivers, from);
  expect(new Set(found.map((f) => f.driverId)).size).toBe(found.length);
  expect(found.length).toBeLessThanOrEqual(limit);
  const got = found.map((f) => {
    const d = byId.get(f.driverId);
    expect(d?.eligible, `${f.driverId} is not an available driver`).toBe(true);
    return distanceMeters(from, d!.at);
  });
  for (const [i, d] of got.entries()) {
    expect(d).toBeLessThanOrEqual(radiusM + tolerance(radiusM));
    expect(Math.abs(d - truth[i]!.distanceM), `result ${i} is ${d} m away, the true ${i}-th nearest ${truth[i]!.distanceM} m`).toBeLessThanOrEqual(
      tolerance(truth[i]!.distanceM),
    );
  }
  const surelyInside = truth.filter((t) => t.distanceM < radiusM - tolerance(radiusM)).length;
  const maybeInside = truth.filter((t) => t.distanceM <= radiusM + tolerance(radiusM)).length;
  expect(found.length).toBeGreaterThanOrEqual(Math.min(limit, surelyInside));
  expect(found.length).toBeLessThanOrEqual(Math.min(limit, maybeInside));
}

const T0 = 1_750_000_000_000;
const BERLIN = { lat: 52.52, lng: 13.405 };
const TOKYO = { lat: 35.68, lng: 139.76 };

// ---- Redis GEO projection -------------------------------------------------------------------

describe('Redis GEO projection of available drivers', () => {
  let server: RedisServer;
  let plain: Redis;
  let n = 0;
  let clock = T0;
  const open: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    server = await startRedis();
    plain = new Redis(server.url, { protocol: 2 });
  });
  afterAll(async () => {
    await Promise.all(open.map((p) => p.close()));
    plain?.disconnect();
    await server?.stop();
  });

  const projection = (extra: Partial<RedisGeoOptions> = {}) => {
    const p = makeRedisGeoProjection({ url: server.url, key: `t${++n}:{geo}:drivers`, staleAfterMs: 60_000, clock: { now: () => clock }, ...extra });
    open.push(p);
    return p;
  };

  /** What `redis-cli GEOSEARCH <key> FROMLONLAT … BYRADIUS … WITHCOORD ASC` shows. */
  const cliSearch = async (key: string, from: LatLng, radiusM: number) => {
    const reply = (await plain.call('GEOSEARCH', key, 'FROMLONLAT', from.lng, from.lat, 'BYRADIUS', radiusM, 'm', 'ASC', 'WITHCOORD')) as [
      string,
      [string, string],
    ][];
    return new Map(reply.map(([id, [lng, lat]]) => [id, { lat: Number(lat), lng: Number(lng) }]));
  };
  const near = (a: LatLng | undefined, b: LatLng) => !!a && distanceMeters(a, b) < 1;

  /** Everything the projection keeps, as redis-cli would dump it. */
  const dump = async (keys: { geo: string; seen: string; state: string }) => ({
    geo: await plain.zrange(keys.geo, '0', '-1', 'WITHSCORES'),
    seen: await plain.zrange(keys.seen, '0', '-1', 'WITHSCORES'),
    state: await plain.hgetall(keys.state),
  });

  it('rejects a key without a hash tag (its companion keys would land in other slots)', () => {
    expect(() => makeRedisGeoProjection({ url: 'redis://127.0.0.1:1', key: 'ridecast:geo:drivers' })).toThrow(/hash tag/);
  });

  it('applies a batch of points in one call, in order, as one by one would', async () => {
    clock = T0 + 10_000;
    const batched = projection();
    const single = projection();
    const p1 = { lat: 52.52, lng: 13.405 };
    const p2 = { lat: 52.521, lng: 13.407 };
    for (const geo of [batched, single]) await geo.onDriverEvent(driverStream('d_a').online());
    // d_a moves twice, then a late point (must not move it back); d_b has no availability (not shown).
    const points = [fix('d_a', p1, T0 + 1_000), fix('d_b', p1, T0 + 1_000), fix('d_a', p2, T0 + 2_000), fix('d_a', p1, T0 + 1_500)];
    expect(await batched.onLocations(points)).toBe(3);
    for (const p of points) await single.onLocation(p);
    const a = await dump(batched.keys);
    const b = await dump(single.keys);
    expect(a).toEqual(b);
    expect(near((await cliSearch(batched.keys.geo, BERLIN, 5_000)).get('d_a'), p2)).toBe(true);
    expect(await batched.onLocations(points)).toBe(0); // redelivered: changes nothing
  });

  it('shows online drivers at their latest positions, and no one else', async () => {
    clock = T0 + 10_000;
    const geo = projection();
    const a = driverStream('d_a');
    const b = driverStream('d_b');
    const p1 = { lat: 52.52, lng: 13.405 };
    const p2 = { lat: 52.521, lng: 13.407 };
    const p3 = { lat: 52.5205, lng: 13.41 };
    expect(await geo.onDriverEvent(a.online())).toBe(true);
    await geo.onLocation(fix('d_a', p1, T0 + 1_000));
    await geo.onLocation(fix('d_a', p2, T0 + 2_000));
    // A point from before the latest fix (late upload) does not move the driver back.
    expect(await geo.onLocation(fix('d_a', p1, T0 + 1_500))).toBe(false);
    // d_b reports before going online: placed, at its latest fix, when the availability event arrives.
    await geo.onLocation(fix('d_b', p3, T0 + 3_000));
    expect((await cliSearch(geo.keys.geo, BERLIN, 5_000)).has('d_b')).toBe(false);
    await geo.onDriverEvent(b.online());
    // d_c streams positions but never goes online.
    await geo.onLocation(fix('d_c', p1, T0 + 3_000));

    const shown = await cliSearch(geo.keys.geo, BERLIN, 5_000);
    expect([...shown.keys()].sort()).toEqual(['d_a', 'd_b']);
    expect(near(shown.get('d_a'), p2)).toBe(true);
    expect(near(shown.get('d_b'), p3)).toBe(true);
    const [nearest] = await geo.nearby(p3, 2_000, 1);
    expect(nearest).toMatchObject({ driverId: 'd_b' });
    expect(nearest!.distanceM).toBeLessThan(1);
    expect(await geo.count()).toBe(2);
  });

  it('takes drivers off when they go offline or carry a ride, and puts them back when free; nearby skips a live hold', async () => {
    clock = T0 + 10_000;
    const geo = projection();
    const d = driverStream('d_1');
    const here = { lat: 52.5, lng: 13.4 };
    const onMap = async () => (await cliSearch(geo.keys.geo, here, 100)).has('d_1');
    const listed = async () => (await geo.nearby(here, 100, 5)).some((f) => f.driverId === 'd_1');
    await geo.onDriverEvent(d.online());
    await geo.onLocation(fix('d_1', here, T0 + 5_000));
    expect(await onMap()).toBe(true);
    expect(await listed()).toBe(true);

    // A held driver stays on the map with the hold's expiry beside them: free again once it lapses.
    await geo.onDriverEvent(d.hold('r_1'));
    expect(await onMap()).toBe(true);
    expect(JSON.parse((await plain.hget(geo.keys.state, 'd_1'))!)).toMatchObject({ o: 'r_1', e: String(T0 + 15_000) });
    expect(await listed()).toBe(false);
    await geo.onDriverEvent(d.release('r_1'));
    expect(await listed()).toBe(true);

    await geo.onDriverEvent(d.hold('r_2'));
    await geo.onDriverEvent(d.assign('r_2'));
    expect(await onMap()).toBe(false);
    await geo.onLocation(fix('d_1', { lat: 52.501, lng: 13.4 }, T0 + 6_000));
    expect(await onMap()).toBe(false); // moving while busy does not put them back
    await geo.onDriverEvent(d.free('r_other')); // frees another ride: still busy
    expect(await onMap()).toBe(false);
    await geo.onDriverEvent(d.free('r_2'));
    expect(near((await cliSearch(geo.keys.geo, here, 500)).get('d_1'), { lat: 52.501, lng: 13.4 })).toBe(true);

    await geo.onDriverEvent(d.online(false));
    expect(await onMap()).toBe(false);
    await geo.onLocation(fix('d_1', here, T0 + 7_000));
    expect(await onMap()).toBe(false); // offline drivers stay off whatever they report
    expect(await geo.count()).toBe(0);
  });

  // Issue 15, session 7: a point costs Redis what it changes. A driver on a ride is off the map already:
  // their points do not take them off again; an available driver's fix time is written once, not twice.
  it('writes per point only what changes: no ZREM for a driver already off the map, one ZADD of the fix time', async () => {
    clock = T0 + 10_000;
    const geo = projection();
    const d = driverStream('d_busy');
    const here = { lat: 52.5, lng: 13.4 };
    const calls = async (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(await plain.info('commandstats'))?.[1] ?? 0);
    await geo.onDriverEvent(d.online());
    await geo.onLocation(fix('d_busy', here, T0 + 1_000));
    const zaddBefore = await calls('zadd');
    await geo.onLocations(Array.from({ length: 10 }, (_, i) => fix('d_busy', { lat: 52.5 + i * 1e-4, lng: 13.4 }, T0 + 2_000 + i)));
    // GEOADD is a ZADD inside Redis too: one for the map, one for seen, per point.
    expect((await calls('zadd')) - zaddBefore).toBe(10);
    expect((await plain.zscore(geo.keys.seen, 'd_busy'))).toBe(String(T0 + 2_009));

    await geo.onDriverEvent(d.hold('r_9'));
    await geo.onDriverEvent(d.assign('r_9'));
    expect((await cliSearch(geo.keys.geo, here, 500)).has('d_busy')).toBe(false);
    const zremBefore = await calls('zrem');
    await geo.onLocations(Array.from({ length: 10 }, (_, i) => fix('d_busy', { lat: 52.501, lng: 13.4 + i * 1e-4 }, T0 + 3_000 + i)));
    expect((await calls('zrem')) - zremBefore).toBe(0);
    expect((await plain.zscore(geo.keys.seen, 'd_busy'))).toBe(String(T0 + 3_009));
    await geo.onDriverEvent(d.free('r_9'));
    expect(near((await cliSearch(geo.keys.geo, here, 500)).get('d_busy'), { lat: 52.501, lng: 13.4009 })).toBe(true);
  });

  it('sweeps drivers whose last fix is stale; a fresh fix brings them back', async () => {
    clock = T0;
    const geo = projection({ staleAfterMs: 30_000 });
    const here = { lat: 52.5, lng: 13.4 };
    for (const [i, seenAt] of [T0, T0 + 10_000, T0 + 20_000].entries()) {
      await geo.onDriverEvent(driverStream(`d_${i}`).online());
      await geo.onLocation(fix(`d_${i}`, here, seenAt));
    }
    expect(await geo.count()).toBe(3);
    expect(await geo.sweepStale(T0 + 25_000)).toBe(0);
    expect(await geo.sweepStale(T0 + 45_000)).toBe(2); // d_0, d_1 last seen more than 30 s before
    expect([...(await cliSearch(geo.keys.geo, here, 100)).keys()]).toEqual(['d_2']);
    expect(await plain.zrange(geo.keys.seen, '0', '-1')).toEqual(['d_2']);
    clock = T0 + 46_000;
    await geo.onLocation(fix('d_0', here, T0 + 46_000));
    expect([...(await cliSearch(geo.keys.geo, here, 100)).keys()].sort()).toEqual(['d_0', 'd_2']);
    // A driver who comes back online on an old fix stays off until a fresh one arrives.
    const late = driverStream('d_9');
    await geo.onLocation(fix('d_9', here, T0));
    await geo.onDriverEvent(late.online());
    expect((await cliSearch(geo.keys.geo, here, 100)).has('d_9')).toBe(false);
  });

  it('sweeps in batches when thousands of drivers go stale at once', async () => {
    clock = T0;
    const geo = projection({ staleAfterMs: 1_000 });
    const random = createRandom(7).next;
    for (let i = 0; i < 2_500; i++) {
      await geo.onDriverEvent(driverStream(`d_${i}`).online());
      await geo.onLocation(fix(`d_${i}`, scatter(random, BERLIN, 10_000), T0));
    }
    expect(await geo.count()).toBe(2_500);
    expect(await geo.sweepStale(T0 + 5_000)).toBe(2_500);
    expect(await geo.count()).toBe(0);
    expect(await plain.exists(geo.keys.seen)).toBe(0);
  });

  it('changes nothing when events are delivered again, in any order', async () => {
    clock = T0 + 10_000;
    const geo = projection();
    const random = createRandom(42).next;
    const events: Recorded[] = [];
    for (let i = 0; i < 40; i++) {
      const id = `d_${i}`;
      const d = driverStream(id);
      events.push(d.online());
      for (let k = 1; k <= 5; k++) events.push(fix(id, scatter(random, BERLIN, 8_000), T0 + k * 1_000));
      if (i % 4 === 1) events.push(d.hold('r_x'));
      if (i % 4 === 2) events.push(d.hold('r_y'), d.assign('r_y'));
      if (i % 4 === 3) events.push(d.online(false));
    }
    const apply = (e: Recorded) => (e.metadata.stream === 'drivers' ? geo.onDriverEvent(e as Recorded<DriverEvent>) : geo.onLocation(e as Recorded<LocationRecorded>));
    for (const e of events) expect(await apply(e)).toBe(true);
    const before = await dump(geo.keys);
    expect(before.geo.length / 2).toBe(20); // online and not on a ride (held ones included)
    expect(await geo.nearby(BERLIN, 30_000, 100)).toHaveLength(10); // free: not held either

    const shuffled = [...events].sort(() => random() - 0.5);
    for (const e of shuffled) expect(await apply(e), `${e.type} ${e.metadata.eventId} applied twice`).toBe(false);
    expect(await dump(geo.keys)).toEqual(before);
  });

  it('rebuilds from the log to exactly what the live projection holds', async () => {
    clock = T0 + 40_000;
    const random = createRandom(99).next;
    let logClock = T0;
    const log = getInMemoryEventLog({ clock: { now: () => (logClock += 5) } });
    const live = projection({ staleAfterMs: 30_000 });
    for (let step = 0; step < 600; step++) {
      const i = Math.floor(random() * 30);
      const id = `d_${i}`;
      const r = random();
      if (r < 0.75) {
        const p = scatter(random, BERLIN, 10_000);
        const recordedAt = T0 + step * 60 - (r < 0.05 ? 5_000 : 0); // some late points
        const [e] = await log.append('driver-locations', id, [fix(id, p, recordedAt)]);
        await live.onLocation(e!);
      } else {
        const state = (await log.readKey('drivers', id)).length;
        const pick = random();
        const event: DriverEvent = pick < 0.4
          ? { type: 'DriverAvailabilityChanged', data: { driverId: id, available: random() < 0.7, at: T0 } }
          : pick < 0.7
            ? { type: 'DriverAssigned', data: { driverId: id, rideId: `r_${step}`, at: T0 } }
            : { type: 'DriverFreed', data: { driverId: id, rideId: `r_${step - 1}`, at: T0 } };
        const [e] = await log.append('drivers', id, [event], { expectedVersion: state });
        await live.onDriverEvent(e!);
        if (random() < 0.2) await live.onDriverEvent(e!);
      }
    }
    await live.sweepStale();
    const rebuilt = projection({ staleAfterMs: 30_000 });
    await rebuilt.onLocation(fix('d_ghost', BERLIN, T0 + 39_000)); // whatever was there before goes
    const result = await rebuildDriverPositions(log, rebuilt, { pageSize: 16 });
    expect(result.events).toBe((await log.read('drivers')).length + (await log.read('driver-locations')).length);
    expect(await live.count()).toBeGreaterThan(0);
    expect(await dump(rebuilt.keys)).toEqual(await dump(live.keys));
  });

  it('answers nearby exactly as a brute-force haversine scan over 500 random drivers', async () => {
    clock = T0 + 10_000;
    const geo = projection({ initialRadiusM: 300 });
    const random = createRandom(2024).next;
    const drivers: Placed[] = [];
    for (let i = 0; i < 500; i++) {
      const id = `d_${String(i).padStart(3, '0')}`;
      const d = driverStream(id);
      const at = scatter(random, BERLIN, 20_000);
      const kind = random();
      await geo.onDriverEvent(d.online());
      await geo.onLocation(fix(id, scatter(random, BERLIN, 20_000), T0 + 1_000)); // an older position first
      await geo.onLocation(fix(id, at, T0 + 2_000));
      if (kind < 0.1) await geo.onDriverEvent(d.online(false));
      else if (kind < 0.2) await geo.onDriverEvent(d.hold(`r_${i}`));
      else if (kind < 0.25) {
        await geo.onDriverEvent(d.hold(`r_${i}`));
        await geo.onDriverEvent(d.assign(`r_${i}`));
      }
      drivers.push({ driverId: id, at, eligible: kind >= 0.25, held: kind >= 0.1 && kind < 0.2 });
    }
    const eligible = drivers.filter((d) => d.eligible).length;
    expect(await geo.count()).toBe(eligible + drivers.filter((d) => d.held).length); // held drivers stay on the map
    // Redis measures on a 6372797.56 m sphere (ours: 6371008.8 m) with ~0.6 m geohash cells.
    const tolerance = (d: number) => d * 4e-4 + 1.5;
    for (let q = 0; q < 40; q++) {
      const from = scatter(random, BERLIN, 24_000);
      const radiusM = [200, 800, 2_000, 5_000, 12_000][q % 5]!;
      const limit = [1, 5, 20, 100, 600][Math.floor(q / 5) % 5]!;
      const found = await geo.nearby(from, radiusM, limit);
      expectAgreement(found, drivers, from, radiusM, limit, tolerance);
      for (const f of found) {
        const d = drivers.find((x) => x.driverId === f.driverId)!;
        expect(distanceMeters(f, d.at)).toBeLessThan(1); // WITHCOORD: where the driver is
        expect(Math.abs(f.distanceM - distanceMeters(from, d.at))).toBeLessThanOrEqual(tolerance(f.distanceM));
      }
    }
    // The whole city within 30 km: everyone available, nearest first.
    const all = await geo.nearby(BERLIN, 30_000, 1_000);
    expect(all).toHaveLength(eligible);
    expect(all.map((f) => f.distanceM)).toEqual([...all.map((f) => f.distanceM)].sort((a, b) => a - b));
  });
});

// ---- the in-process rbush fleet index -------------------------------------------------------

describe('rbush fleet index (makeFleet().nearest)', () => {
  function loadFleet(center: LatLng, seed: number) {
    const fleet = makeFleet();
    const random = createRandom(seed).next;
    const drivers: Placed[] = [];
    for (let i = 0; i < 500; i++) {
      const id = `d_${i}`;
      const d = driverStream(id);
      const at = scatter(random, center, 20_000);
      const online = random() >= 0.15;
      fleet.applyDriverEvent(d.online(online));
      const e = fix(id, at, T0 + 1_000);
      fleet.moveDriver(e, { lat: at.lat, lng: at.lng, heading: null, speed: null });
      drivers.push({ driverId: id, at, eligible: online });
    }
    return { fleet, drivers, random };
  }

  // A planar projection of a 20 km city: allow 0.5% of the distance.
  const tolerance = (d: number) => d * 5e-3 + 1;

  for (const [city, center, seed] of [['Berlin', BERLIN, 11], ['Tokyo', TOKYO, 12]] as const) {
    it(`agrees with a brute-force haversine scan over 500 random drivers (${city})`, () => {
      const { fleet, drivers, random } = loadFleet(center, seed);
      expect(fleet.indexedCount()).toBe(drivers.filter((d) => d.eligible).length);
      for (let q = 0; q < 40; q++) {
        const from = scatter(random, center, 24_000);
        const radiusM = [500, 1_500, 4_000, 10_000][q % 4]!;
        const limit = [1, 5, 25, 600][Math.floor(q / 4) % 4]!;
        const found = fleet.nearest(from, limit, radiusM);
        expectAgreement(found, drivers, from, radiusM, limit, tolerance);
      }
    });
  }
});
