import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';

/** `npm run simulate` as an operator runs it, against a real server; stopped the way Ctrl-C or `kill` stops it. */
describe('npm run simulate', () => {
  let service: Awaited<ReturnType<typeof startService>>;
  let origin: string;
  let child: ChildProcess | null = null;

  beforeAll(async () => {
    service = await startService({}, { matchPolicy: { freshnessMs: 10 * 60_000 } }, { MATCH_TIMEOUT_MS: '600000' });
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    const address = service.app.server.address();
    origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await service?.close();
  });

  it('logs in as "admin" by default, runs at --time-scale, and on SIGTERM takes its drivers offline and cancels its open rides', async () => {
    let output = '';
    const dir = mkdtempSync(join(tmpdir(), 'ridecast-kpis-'));
    const kpis = join(dir, 'kpis.json');
    // No --admin-user: the default is "admin". Few drivers and many requests, so rides are open when it stops.
    child = spawn(process.execPath, ['--import', 'tsx', 'src/simulate.ts', '--url', origin, '--drivers', '3', '--riders-per-min', '600', '--time-scale', '5', '--progress', '0', '--kpis', kpis], {
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'ADMIN_USERNAME')), ADMIN_PASSWORD: ADMIN.password },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += String(d)));
    child.stderr!.on('data', (d) => (output += String(d)));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));

    const online = () => [...service.ctx.fleet.all()].filter((d) => d.available).length;
    try {
      await waitFor(() => output.includes('at 5× speed'), 'the banner naming the time scale', 30_000);
      await waitFor(() => online() === 3, 'three drivers online', 30_000);
      await waitFor(() => service.ridecast.tracker.activeRides().size >= 4, 'open rides', 30_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}; simulate said:\n${output}`);
    }

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toMatch(/cancelled \d+ open ride/);
    expect(online()).toBe(0);
    await waitFor(() => service.ridecast.tracker.activeRides().size === 0, 'every ride to be closed');
    // The dispatch KPIs are printed and written as JSON on the way out.
    expect(output).toMatch(/dispatch: \d+ requests, match rate/);
    const written = JSON.parse(readFileSync(kpis, 'utf8'));
    expect(written).toMatchObject({ drivers: 3, requests: expect.any(Number), timeToMatchS: expect.any(Object), pickupActualS: expect.any(Object) });
    expect(written.requests).toBeGreaterThanOrEqual(4);
    expect(Object.keys(written)).toContain('matchRate'); // null (NaN) when no ride was matched or given up yet
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
