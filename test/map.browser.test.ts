import { existsSync, mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapPlugin } from '../adapters/http/map/plugin.ts';
import { startFleet, type Fleet } from '../src/simulator/fleet.ts';
import { streetsToGeoJson } from '../src/simulator/streets-geojson.ts';
import { generateStreets } from '../src/simulator/streets.ts';
import { launchBrowser, logInOnMap, mapState, openPage, screenshotFailures } from './support/browser.ts';
import { freePort } from './support/net.ts';
import { ADMIN, client, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// A browser walk-through on a busy 2-core machine takes longer than a unit test: each step waits
// for what proves it, and the whole test gets a budget that fits all of its waits.
describe('live map page against the real server', { timeout: 180_000 }, () => {
  screenshotFailures();
  // A small city (1.5 km a side, as in simulator.fleet.test.ts): the simulated drivers drive to
  // their pickups in real time, so a short drive is what makes the first pickup (and the panel's
  // mean pickup time) come within seconds rather than the minute or more of the default 6 km city.
  const graph = generateStreets({ widthMeters: 1500, heightMeters: 1500 });
  let service: Awaited<ReturnType<typeof startService>>;
  let fleet: Fleet;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    if (!existsSync(chromium)) throw new Error(`no Chromium at ${chromium} (set CHROMIUM_PATH)`);
    service = await startService({}, { plugins: [async (app) => void (await app.register(mapPlugin, { streets: streetsToGeoJson(graph) }))] });
    const port = await freePort();
    await service.app.listen({ port, host: '127.0.0.1' });
    origin = `http://127.0.0.1:${port}`;
    fleet = startFleet({ baseUrl: origin, drivers: 20, ridersPerMinute: 60, credentials: ADMIN, streets: graph, offlineChancePerMinute: 0, progressIntervalMs: 0 });
    [browser] = await Promise.all([launchBrowser(), fleet.ready]);
    mkdirSync('test-artifacts', { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await fleet?.stop();
    await service?.close();
  });

  it('an operator sees every driver, active rides, demand and the server’s fleet stats, with nothing from outside', async () => {
    const { page, errors, external } = await openPage(browser, origin);
    await logInOnMap(page, origin, ADMIN.username, ADMIN.password);
    await waitFor(async () => (await mapState(page)).connection === 'live', 'the stream to be live');
    await waitFor(async () => {
      const s = await mapState(page);
      return s.drivers === 20 && s.rides > 0 && s.demand > 0;
    }, 'drivers, rides and demand on the map', 30_000);
    // fleet.stats arrives every 2 s and replaces the page's own counts.
    await expect.poll(() => page.locator('#stat-lps').innerText(), { timeout: 10_000 }).toMatch(/^[1-9]\d*$/);
    // Every street of the city the server was given is drawn.
    expect((await mapState(page)).streets).toBe(streetsToGeoJson(graph).features.length);
    await page.screenshot({ path: 'test-artifacts/map-operator-real.png' });
    expect(external).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('the status panel shows match rate and mean pickup time live, as the server’s fleet.stats says', async () => {
    const { page, errors, received } = await openPage(browser, origin);
    await logInOnMap(page, origin, ADMIN.username, ADMIN.password);
    // The simulated fleet accepts rides and drives to the pickups: wait for a fleet.stats that has
    // both figures (a ride matched, a driver arrived), then for the panel to show that message.
    const statsWithPickup = () =>
      received.filter((m) => m.type === 'fleet.stats' && typeof m.matchRate === 'number' && typeof m.meanPickupSeconds === 'number');
    await waitFor(async () => statsWithPickup().length > 0, 'a fleet.stats with matchRate and meanPickupSeconds', 90_000);
    const shown = (m: Record<string, unknown>) => ({
      rate: `${((m.matchRate as number) * 100).toFixed(1)}%`,
      pickup: `${Math.round(m.meanPickupSeconds as number).toLocaleString('en')} s`,
    });
    // Stats keep arriving every 2 s; the panel shows the latest one, whichever that is when we read.
    await waitFor(async () => {
      const panel = { rate: await page.locator('#stat-match-rate').innerText(), pickup: await page.locator('#stat-pickup').innerText() };
      return statsWithPickup().some((m) => shown(m).rate === panel.rate && shown(m).pickup === panel.pickup);
    }, 'the panel to show the match rate and mean pickup of a fleet.stats message', 10_000);
    expect(await page.locator('#stat-match-rate').innerText()).toMatch(/^\d{1,3}\.\d%$/);
    expect(await page.locator('#stat-pickup').innerText()).toMatch(/^[\d,]+ s$/);
    expect(errors).toEqual([]);
  });

  it('a rider sees only their ride, and resumes after a dropped connection from the last event seen', async () => {
    const api = client(service.app);
    const rider = await api.user('rider', 'map-rider');
    const pickup = graph.nodes[0]!;
    const dropoff = graph.nodes[graph.nodes.length - 1]!;
    const ride = await api.post('/v1/rides', rider.token, { pickup: { lat: pickup.lat, lng: pickup.lng }, dropoff: { lat: dropoff.lat, lng: dropoff.lng } });
    expect(ride.status).toBe(202);
    const rideId = ride.body.rideId as string;

    const { page, errors, sent, received } = await openPage(browser, origin);
    await logInOnMap(page, origin, 'map-rider', 'password-123');
    await page.fill('#watch-form input[name=rideId]', rideId);
    await page.click('#watch-form button[type=submit]');
    const row = page.locator('#watched li[data-event-id]');
    await row.waitFor({ timeout: 60_000 });
    expect((await mapState(page)).drivers).toBeLessThanOrEqual(1);

    // The fleet keeps moving while we look: a location of this ride may arrive at any moment and
    // rightly advance the page's resume point past the status the row shows. So the resume point
    // is judged from what the dropped socket had delivered when it dropped, not from a read before.
    const lastShown = await row.getAttribute('data-event-id');
    const dropped = received.at(-1)!.socket;
    const before = sent.length;
    service.ridecast.hub.closeAll();
    await waitFor(async () => (await mapState(page)).connection === 'live' && sent.length > before, 'the stream to be live again', 20_000);
    await waitFor(() => sent.slice(before).find((m) => m.type === 'subscribe' && m.rideId === rideId), 'the page to subscribe again');

    const deliveredBeforeDrop = received.filter((m) => m.socket === dropped && m.rideId === rideId && typeof m.eventId === 'string');
    const ids = deliveredBeforeDrop.map((m) => m.eventId);
    expect(ids).toContain(lastShown);
    // It resumes after the last event of the ride it was given: at or after the one the row showed.
    expect(sent.slice(before).filter((m) => m.rideId === rideId)).toEqual([{ type: 'subscribe', rideId, after: ids.at(-1) }]);

    // And nothing is missed or doubled across the drop: from the state the page first got, every
    // ride event the log holds (as of now) reaches the page once, in log order, over the two sockets.
    const history = (await service.ridecast.rides.history(rideId)).map((e) => e.metadata.eventId);
    const statuses = () => received.filter((m) => m.type === 'ride.status' && m.rideId === rideId).map((m) => m.eventId);
    const from = history.indexOf(statuses()[0] as string);
    expect(from).toBeGreaterThanOrEqual(0);
    const expected = history.slice(from);
    await waitFor(() => statuses().length >= expected.length, 'the ride events of the log on the page', 30_000);
    expect(statuses().slice(0, expected.length)).toEqual(expected);
    expect(errors).toEqual([]);
  });
});
