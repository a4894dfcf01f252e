import { existsSync, mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapPlugin } from '../adapters/http/map/plugin.ts';
import { startFleet, type Fleet } from '../src/simulator/fleet.ts';
import { streetsToGeoJson } from '../src/simulator/streets-geojson.ts';
import { generateStreets } from '../src/simulator/streets.ts';
import { buildFakeServer, type FakeServer } from './simulator.fake-server.ts';
import { launchBrowser, logInOnMap, mapState, openPage, screenshotFailures } from './support/browser.ts';
import { freePort } from './support/net.ts';
import { waitFor } from './support/wait.ts';

// The page against the contract stand-in, so it is exercised before (and apart from) the real
// server; test/map.browser.test.ts runs the same page against the real one.
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const admin = { username: 'admin', password: 'admin-password' };

describe.skipIf(!existsSync(chromium))('live map page (contract stand-in)', { timeout: 120_000 }, () => {
  screenshotFailures();
  const graph = generateStreets();
  let server: FakeServer;
  let fleet: Fleet;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    server = await buildFakeServer({ admin });
    await server.app.register(mapPlugin, { streets: streetsToGeoJson(graph) });
    const port = await freePort();
    await server.app.listen({ port, host: '127.0.0.1' });
    origin = `http://127.0.0.1:${port}`;
    fleet = startFleet({ baseUrl: origin, drivers: 15, ridersPerMinute: 40, credentials: admin, streets: graph, timeScale: 10, cancelProbability: 0, offlineChancePerMinute: 0, progressIntervalMs: 0 });
    [browser] = await Promise.all([launchBrowser(), fleet.ready]);
    mkdirSync('test-artifacts', { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await fleet?.stop();
    await server?.app.close();
  });

  it('an operator sees the streets, every driver, active rides and demand, with nothing fetched from outside', async () => {
    const { page, errors, external } = await openPage(browser, origin);
    await logInOnMap(page, origin, admin.username, admin.password);
    await waitFor(async () => (await mapState(page)).connection === 'live', 'the stream to be live');
    const state = await waitFor(async () => {
      const s = await mapState(page);
      return s.drivers === 15 && s.rides > 0 && s.demand > 0 && s;
    }, 'drivers, rides and demand on the map');
    expect(state.streets).toBeGreaterThan(50);
    await expect.poll(() => page.locator('#stat-online').innerText(), { timeout: 5_000 }).toMatch(/^\d+$/);
    await page.screenshot({ path: 'test-artifacts/map-operator.png' });
    expect(external).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('a wrong password is refused on the form and the page stays on it', async () => {
    const { page } = await openPage(browser, origin);
    await logInOnMap(page, origin, admin.username, 'wrong');
    await expect.poll(() => page.locator('#login-error').innerText()).toBe('Wrong username or password.');
    expect(await page.locator('#login').isVisible()).toBe(true);
    expect((await mapState(page)).connection).toBe('offline');
  });

  it('a rider follows only their ride and, after the connection drops, resumes from the last event seen', async () => {
    const call = async (path: string, token: string | null, body: unknown) => {
      const res = await fetch(origin + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
        body: JSON.stringify(body),
      });
      return (await res.json()) as Record<string, string>;
    };
    const { token } = await call('/v1/auth/login', null, admin);
    await call('/v1/users', token!, { username: 'rita', password: 'rita-password', role: 'rider' });
    const rita = await call('/v1/auth/login', null, { username: 'rita', password: 'rita-password' });
    const node = graph.nodes[0]!;
    const far = graph.nodes[graph.nodes.length - 1]!;
    const { rideId } = await call('/v1/rides', rita.token!, { pickup: { lat: node.lat, lng: node.lng }, dropoff: { lat: far.lat, lng: far.lng } });

    const { page, errors, sent, received } = await openPage(browser, origin);
    await logInOnMap(page, origin, 'rita', 'rita-password');
    await page.fill('#watch-form input[name=rideId]', rideId!);
    await page.click('#watch-form button[type=submit]');
    // A status from the stream (the first one shown may come from GET /v1/rides/:id, with no event).
    const row = page.locator('#watched li[data-event-id]');
    await row.waitFor({ timeout: 60_000 });
    expect(await row.locator('.status').innerText()).toMatch(/^(requested|offered|accepted|arrived|in_progress|completed)$/);
    expect((await mapState(page)).drivers).toBeLessThanOrEqual(1);

    // The fleet keeps moving: a location of this ride may arrive after the row was read and rightly
    // advance the resume point, so it is judged from what the dropped socket had delivered.
    const lastShown = await row.getAttribute('data-event-id');
    const dropped = received.at(-1)!.socket;
    const before = server.subscriptions.length;
    server.dropSockets();
    // The ride's driver (a simulated one) subscribes again too; look for the rider's page.
    const fromPage = () => server.subscriptions.slice(before).find((s) => s.rideId === rideId && s.userId === rita.userId);
    const again = await waitFor(fromPage, 'the page to subscribe again');
    const ids = received.filter((m) => m.socket === dropped && m.rideId === rideId && typeof m.eventId === 'string').map((m) => m.eventId);
    expect(ids).toContain(lastShown);
    const lastSeen = ids.at(-1);
    expect(again.after).toBe(lastSeen);
    // The browser reports its sent frames a moment after the server has them.
    await waitFor(() => sent.filter((m) => m.rideId === rideId).length >= 2, 'the page to report its second subscribe');
    expect(sent.filter((m) => m.rideId === rideId)).toEqual([
      { type: 'subscribe', rideId },
      { type: 'subscribe', rideId, after: lastSeen },
    ]);
    await waitFor(async () => (await mapState(page)).connection === 'live', 'the stream to be live again');
    expect(errors).toEqual([]);
  });
});
