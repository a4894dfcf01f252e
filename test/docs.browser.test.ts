import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openPage } from './support/browser.ts';
import { startService } from './support/service.ts';

/**
 * `GET /docs` in Debian's Chromium: Swagger UI, served by the service from node_modules, renders
 * every operation of /openapi.json, and not one request leaves 127.0.0.1 (no CDN, no validator).
 */
let service: Awaited<ReturnType<typeof startService>>;
let browser: Browser;
let origin: string;
beforeAll(async () => {
  service = await startService();
  origin = await service.app.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchBrowser();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await service?.close();
});

describe('GET /docs', () => {
  it('renders the API reference offline, every operation listed', async () => {
    const { page, errors, external } = await openPage(browser, origin);
    // Swagger UI is 1.5 MB of script: on a loaded machine parsing it alone takes a while.
    page.setDefaultTimeout(150_000);
    await page.goto(`${origin}/docs`);
    await page.waitForSelector('.swagger-ui .info .title');
    expect(await page.textContent('.swagger-ui .info .title')).toContain('Ridecast API');
    const doc = (await (await fetch(`${origin}/openapi.json`)).json()) as { paths: Record<string, object> };
    const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    await page.waitForFunction((n) => document.querySelectorAll('.swagger-ui .opblock').length >= n, operations);
    // The bearer scheme is offered for authorising.
    expect(await page.isVisible('.swagger-ui .auth-wrapper .authorize')).toBe(true);
    // One operation opens with its error answers.
    await page.click('#operations-rides-postRides .opblock-summary');
    await page.waitForSelector('#operations-rides-postRides .responses-table');
    const codes = await page.$$eval('#operations-rides-postRides .responses-table .response-col_status', (cells) =>
      cells.map((c) => c.textContent?.trim()),
    );
    expect(codes).toEqual(expect.arrayContaining(['202', '400', '401', '429', '503']));
    expect(external).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 240_000);
});
