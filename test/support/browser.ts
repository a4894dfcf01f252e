import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { afterEach } from 'vitest';

/** Pages opened by the running test: screenshotted when it fails, so CI shows what the user saw. */
const openPages: Page[] = [];

/**
 * Call once at the top of a browser suite: after each failed test every page it opened is saved as
 * `test-artifacts/failed-<test name>-<n>.png`, then forgotten.
 */
export function screenshotFailures(dir = 'test-artifacts'): void {
  afterEach(async (context) => {
    const pages = openPages.splice(0);
    if (context.task.result?.state !== 'fail') return;
    mkdirSync(dir, { recursive: true });
    const name = context.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 80);
    for (const [i, page] of pages.entries()) {
      const path = `${dir}/failed-${name}-${i}.png`;
      await page.screenshot({ path, fullPage: true }).then(
        () => console.error(`screenshot of the failed page: ${path}`),
        () => undefined,
      );
    }
  });
}

/** The system Chromium, headless and offline-friendly: no sandbox (containers), no GPU, no background traffic. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface WatchedPage {
  page: Page;
  /** Console errors and uncaught exceptions seen so far, as text. */
  errors: string[];
  /** Requests that left for another host: the page must need none. */
  external: string[];
  /** JSON messages the page sent on its WebSockets, parsed, in order. */
  sent: Record<string, unknown>[];
  /** JSON messages the page received, parsed, in order, each with the index of its socket (0 = the first one opened). */
  received: (Record<string, unknown> & { socket: number })[];
}

/**
 * Opens a page that records console errors, page errors and any request to a host other
 * than `origin`, which is blocked (the map must work with no internet).
 */
export async function openPage(browser: Browser, origin: string): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  openPages.push(page);
  const errors: string[] = [];
  const external: string[] = [];
  const sent: Record<string, unknown>[] = [];
  const received: (Record<string, unknown> & { socket: number })[] = [];
  const parse = (payload: string | Buffer): Record<string, unknown> => {
    try {
      return JSON.parse(String(payload)) as Record<string, unknown>;
    } catch {
      return { unparsed: String(payload) };
    }
  };
  let sockets = 0;
  page.on('websocket', (ws) => {
    const socket = sockets++;
    ws.on('framesent', ({ payload }) => sent.push(parse(payload)));
    ws.on('framereceived', ({ payload }) => received.push({ ...parse(payload), socket }));
  });
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:')) return route.continue();
    external.push(url);
    return route.abort();
  });
  return { page, errors, external, sent, received };
}

/** What the live map shows, from the data attributes its panel keeps up to date. */
export interface MapState {
  connection: string;
  streets: number;
  drivers: number;
  onTrip: number;
  rides: number;
  demand: number;
}

export async function mapState(page: Page): Promise<MapState> {
  return page.evaluate(() => {
    const panel = document.getElementById('panel')!.dataset;
    const n = (v: string | undefined) => Number(v ?? 0);
    return {
      connection: document.getElementById('connection')!.dataset.state ?? '',
      streets: n(document.body.dataset.streets),
      drivers: n(panel.drivers),
      onTrip: n(panel.onTrip),
      rides: n(panel.rides),
      demand: n(panel.demand),
    };
  });
}

/** Opens the map at `origin`, waits for the streets, and logs in through the form. */
export async function logInOnMap(page: Page, origin: string, username: string, password: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-ready=true]');
  await page.fill('#login input[name=username]', username);
  await page.fill('#login input[name=password]', password);
  await page.click('#login button[type=submit]');
}
