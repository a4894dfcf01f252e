import { spawn, spawnSync } from 'node:child_process';
import { rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, STAMP, staleReason } from '../scripts/build.mjs';
import { freePort } from './support/net.ts';
import { waitFor } from './support/wait.ts';

/**
 * `npm run build` + the compiled server under plain node (what `npm start` and the Docker image
 * run): no tsx, no TypeScript at run time, the map's files found from the build, a clean stop.
 * Built into its own folder under test-artifacts/ (inside the repo, so node_modules resolves).
 */
const OUT = join(ROOT, 'test-artifacts', `dist-${process.pid}`);

beforeAll(() => {
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--out', OUT], { cwd: ROOT, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`build failed: ${built.stdout}\n${built.stderr}`);
}, 240_000);

afterAll(() => rmSync(OUT, { recursive: true, force: true }));

describe('production start (compiled JavaScript)', () => {
  it('serves the API and the map from dist/ under plain node, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(OUT, 'src', 'main.js')], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        TRANSPORT: 'memory',
        DEMO: '0',
        SIMULATE: '0',
        HOST: '127.0.0.1',
        PORT: String(port),
        JWT_SECRET: 'compiled-start-secret-long-enough',
        ADMIN_PASSWORD: 'admin-password-1',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`the compiled server exited: ${output}`);
          return (await fetch(`${base}/healthz`).catch(() => null))?.status === 200;
        },
        'the compiled server to answer /healthz',
        60_000,
        100,
      );
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
      // Files read relative to the code (the map page) and from node_modules (Leaflet) are found from dist/.
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      expect((await fetch(`${base}/map/vendor/leaflet/leaflet.js`)).status).toBe(200);
      // The self-describing API too: the generated document and Swagger UI's files from node_modules.
      expect(((await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string }).openapi).toBe('3.1.0');
      expect((await fetch(`${base}/asyncapi.json`)).status).toBe(200);
      expect((await fetch(`${base}/docs/static/swagger-ui-bundle.js`)).status).toBe(200);
      const login = await fetch(`${base}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: 'admin-password-1' }),
      });
      expect(login.status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 90_000);

  it('knows when the build is current and when a source is newer than it', () => {
    expect(staleReason(OUT)).toBeNull();
    // As if every source had changed after the build: the stamp is older than all of them.
    utimesSync(join(OUT, STAMP), new Date(0), new Date(0));
    expect(staleReason(OUT)).toMatch(/changed since the last build/);
    rmSync(join(OUT, STAMP));
    expect(staleReason(OUT)).toMatch(/has no complete build/);
  });
});
