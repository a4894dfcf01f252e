import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../src/simulator/fleet.ts';
import { cityOutline } from '../src/simulator/streets-geojson.ts';
import { generateStreets } from '../src/simulator/streets.ts';
import { buildFakeServer, type FakeServer } from './simulator.fake-server.ts';
import { freePort } from './support/net.ts';
import { waitFor } from './support/wait.ts';

const admin = { username: 'admin', password: 'admin-password' };
// A small town and fast clock, so a handful of trips finish within seconds.
const streets = generateStreets({ widthMeters: 1500, heightMeters: 1500, seed: 4 });

describe('fleet simulator against a contract stand-in', () => {
  let server: FakeServer;
  let fleet: Fleet;

  beforeAll(async () => {
    server = await buildFakeServer({ admin, offerMs: 5_000 });
    const port = await freePort();
    await server.app.listen({ port, host: '127.0.0.1' });
    fleet = startFleet({
      baseUrl: `http://127.0.0.1:${port}`,
      drivers: 6,
      ridersPerMinute: 120,
      credentials: admin,
      streets,
      timeScale: 50,
      cancelProbability: 0,
      progressIntervalMs: 0,
    });
    await fleet.ready;
  });

  afterAll(async () => {
    await fleet?.stop();
    await server?.app.close();
  });

  it('drivers come online, take offers and carry riders to the end of their trips', async () => {
    await waitFor(() => fleet.stats().ridesCompleted >= 2, 'two completed rides', 25_000);
    const s = fleet.stats();
    expect(s.driversReady).toBe(6);
    expect(s.offersAccepted).toBeGreaterThanOrEqual(2);
    expect(server.calls.get('PUT /v1/drivers/me/availability')).toBeGreaterThanOrEqual(6);
    const completed = [...server.rides.values()].filter((r) => r.status === 'completed');
    expect(completed.length).toBe(s.ridesCompleted);
    expect(s.errorsByCode).toEqual({});
    // Dispatch KPIs: every completed ride was requested, matched and picked up, with an actual pickup time.
    expect(s.dispatch.matched).toBeGreaterThanOrEqual(2);
    expect(s.dispatch.requests).toBeGreaterThanOrEqual(s.dispatch.matched);
    expect(s.dispatch.pickupActualS.mean).toBeGreaterThanOrEqual(0);
    expect(s.dispatch.offersPerRide).toBeGreaterThan(0);
    expect(s.dispatch.driverUtilisation).toBeGreaterThan(0);
  });

  it('reported positions are inside the city, and ride pickups and dropoffs are on its streets', () => {
    const [ring] = cityOutline(streets).coordinates;
    const [west, south] = ring![0]!;
    const [east, north] = ring![2]!;
    const margin = 0.0005; // GPS noise may put a fix a few metres outside the outermost street
    const drivers = [...server.drivers.values()].filter((d) => d.at);
    expect(drivers.length).toBe(6);
    const places = [...drivers.map((d) => d.at!), ...[...server.rides.values()].flatMap((r) => [r.pickup, r.dropoff])];
    for (const p of places) {
      expect(p.lat).toBeGreaterThan(south - margin);
      expect(p.lat).toBeLessThan(north + margin);
      expect(p.lng).toBeGreaterThan(west - margin);
      expect(p.lng).toBeLessThan(east + margin);
    }
    expect(fleet.stats().locationsSent).toBeGreaterThan(6);
  });

  it('on stop, every driver goes offline and every socket closes', async () => {
    await fleet.stop();
    expect([...server.drivers.values()].filter((d) => d.available)).toEqual([]);
    expect(fleet.stats().socketsConnected).toBe(0);
  });
});

describe('fleet simulator when things go wrong', () => {
  it('given no server, then start-up fails with a counted error and nothing is thrown', async () => {
    const port = await freePort();
    const fleet = startFleet({ baseUrl: `http://127.0.0.1:${port}`, drivers: 3, ridersPerMinute: 60, credentials: admin, progressIntervalMs: 0 });
    await expect(fleet.ready).rejects.toMatchObject({ code: 'NETWORK', status: 0 });
    expect(fleet.stats().errorsByCode).toEqual({ NETWORK: 1 });
    await fleet.stop();
  });

  it('given wrong admin credentials, then ready rejects with the server’s code', async () => {
    const server = await buildFakeServer({ admin });
    const port = await freePort();
    await server.app.listen({ port, host: '127.0.0.1' });
    const fleet = startFleet({ baseUrl: `http://127.0.0.1:${port}`, drivers: 1, ridersPerMinute: 0, credentials: { ...admin, password: 'nope' }, progressIntervalMs: 0 });
    await expect(fleet.ready).rejects.toMatchObject({ status: 401, code: 'BAD_CREDENTIALS' });
    await fleet.stop();
    await server.app.close();
  });

  it('refuses options that make no sense, naming the option', () => {
    const base = { baseUrl: 'http://127.0.0.1:1', ridersPerMinute: 1, adminToken: 't' };
    expect(() => startFleet({ ...base, drivers: -1 })).toThrow(/drivers/);
    expect(() => startFleet({ ...base, drivers: 1, acceptProbability: 2 })).toThrow(/acceptProbability/);
    expect(() => startFleet({ ...base, drivers: 1, baseUrl: 'nope' })).toThrow(/baseUrl/);
  });
});
