import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapPlugin } from '../adapters/http/map/plugin.ts';
import { streetsToGeoJson } from '../src/simulator/streets-geojson.ts';
import { generateStreets } from '../src/simulator/streets.ts';
import { launchBrowser, logInOnMap, mapState, openPage, type WatchedPage } from './support/browser.ts';
import { client, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';

const ARTIFACTS = 'test-artifacts';

/** Text of an element once it matches, so a failure says what the page showed instead. */
async function textMatching(page: Page, selector: string, pattern: RegExp, what: string, timeoutMs = 20_000): Promise<string> {
  return waitFor(async () => {
    const text = await page.locator(selector).innerText().catch(() => '');
    return pattern.test(text) ? text : '';
  }, `${what} (${selector} to match ${pattern})`, timeoutMs, 100);
}

describe('a rider and a driver take a whole ride on the map, against the real server', () => {
  let service: Awaited<ReturnType<typeof startService>>;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    // A long offer window: the walk-through is driven at browser speed, not a phone's.
    service = await startService({}, {
      matchPolicy: { freshnessMs: 10 * 60_000 },
      plugins: [async (app) => void (await app.register(mapPlugin, { streets: streetsToGeoJson(generateStreets()) }))],
    }, { OFFER_TIMEOUT_MS: '60000', MATCH_TIMEOUT_MS: '120000' });
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    const address = service.app.server.address();
    origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    browser = await launchBrowser();
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await service?.close();
  });

  it('rider: pick, request, watch the driver come, pay, rate, see it in past rides; driver: online, offer, accept, arrive, start, complete', async () => {
    const api = client(service.app);
    const driverUser = await api.user('driver', `walk-driver-${process.pid}`);
    await api.user('rider', `walk-rider-${process.pid}`);
    let rider: WatchedPage | null = null;
    let driver: WatchedPage | null = null;
    try {
      driver = await openPage(browser, origin);
      rider = await openPage(browser, origin);
      const d = driver.page;
      const r = rider.page;

      // The driver says where they are and goes online.
      await logInOnMap(d, origin, `walk-driver-${process.pid}`, 'password-123');
      await d.locator('#driver').waitFor();
      await d.mouse.click(500, 420);
      await d.click('#go-online');
      await textMatching(d, '#driver-status', /^online$/, 'the driver to be online');
      await waitFor(() => service.ctx.fleet.get(driverUser.userId)?.position, 'the driver’s position to reach the server');

      // The rider picks pickup and dropoff on the map and requests.
      await logInOnMap(r, origin, `walk-rider-${process.pid}`, 'password-123');
      await r.locator('#rider').waitFor();
      await r.mouse.click(530, 420);
      await r.mouse.click(760, 260);
      await textMatching(r, '#plan-dropoff', /\d/, 'the dropoff to be set');
      await r.click('#request-ride');
      await textMatching(r, '#ride-status', /requested|offered/, 'the ride to be requested');

      // The driver gets the offer with a countdown, and takes it.
      await d.locator('#offer').waitFor();
      expect(Number(await textMatching(d, '#offer-countdown', /^\d+$/, 'a countdown'))).toBeGreaterThan(0);
      await d.screenshot({ path: `${ARTIFACTS}/map-driver-offer.png` });
      await d.click('#accept-offer');
      await textMatching(d, '#trip-status', /accepted/, 'the trip to be accepted');

      // The rider sees who is coming and how long it will take.
      await textMatching(r, '#ride-driver', new RegExp(driverUser.userId), 'the assigned driver');
      await textMatching(r, '#ride-eta', /ETA/, 'an ETA');
      await textMatching(r, '#timeline', /Offered to a driver nearby[\s\S]*A driver is on the way/, 'the offer and acceptance in the timeline');
      await r.screenshot({ path: `${ARTIFACTS}/map-rider-approach.png` });

      await d.click('#trip-arrive');
      await textMatching(r, '#timeline', /at the pickup/, 'the arrival in the rider’s timeline');
      await d.click('#trip-start');
      await textMatching(r, '#ride-status', /in progress/, 'the trip to start');
      await d.click('#trip-complete');
      await textMatching(d, '#trip-fare', /Fare \d+\.\d\d/, 'the driver to see the fare');

      // Fare and payment, then a rating, then the ride in past rides.
      await textMatching(r, '#ride-fare', /\d+\.\d\d/, 'the fare');
      await textMatching(r, '#ride-payment', /captured/, 'the payment');
      await r.check('#rating-form input[name=stars][value="5"]');
      await r.fill('#rating-form input[name=comment]', 'great ride');
      await r.click('#rating-form button[type=submit]');
      await textMatching(r, '#rating-done', /★★★★★/, 'the rating');
      await waitFor(() => r.locator('#past-rides li[data-status=completed]').count(), 'the ride in past rides');
      await r.screenshot({ path: `${ARTIFACTS}/map-rider-done.png` });

      // Nothing of the finished trip stays on either map.
      await d.click('#trip-done');
      await waitFor(async () => (await mapState(r)).rides === 0 && (await mapState(r)).drivers === 0, 'the rider’s map to be clear', 20_000);
      await waitFor(async () => (await mapState(d)).rides === 0, 'the driver’s map to be clear', 20_000);
      await textMatching(d, '#driver-status', /^online$/, 'the driver to be free again');
      expect(await api.get(`/v1/rides/${await r.locator('#past-rides li').first().getAttribute('data-ride-id')}`, (await api.login(`walk-rider-${process.pid}`, 'password-123')).token))
        .toMatchObject({ body: { status: 'completed', rating: { stars: 5, comment: 'great ride' }, payment: { status: 'captured' } } });
      expect([...rider.errors, ...driver.errors]).toEqual([]);
      expect([...rider.external, ...driver.external]).toEqual([]);
    } catch (err) {
      await rider?.page.screenshot({ path: `${ARTIFACTS}/map-ride-failure-rider.png` }).catch(() => {});
      await driver?.page.screenshot({ path: `${ARTIFACTS}/map-ride-failure-driver.png` }).catch(() => {});
      throw err;
    }
  }, 150_000);
});
