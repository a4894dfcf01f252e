import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killStartedMains, runMain } from './support/main-process.ts';
import { freePort } from './support/net.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { waitFor } from './support/wait.ts';

/**
 * What a newcomer sees at start-up outside demo mode: the URL, the transport, and whether the
 * admin account was created or already existed; and a wrong REDIS_URL as one line naming it.
 */
const ENV = {
  TRANSPORT: 'redis',
  SIMULATE: '0',
  HOST: '127.0.0.1',
  JWT_SECRET: 'banner-test-secret-long-enough',
  ADMIN_USERNAME: 'boss',
  ADMIN_PASSWORD: 'admin-password-1',
  LOG_LEVEL: 'warn',
};

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
}, 60_000);
afterAll(async () => {
  killStartedMains();
  await redis?.stop();
});

async function startAndStop(env: Record<string, string>) {
  const port = await freePort();
  const main = runMain({ ...ENV, ...env, PORT: String(port) });
  await waitFor(
    () => {
      if (main.child.exitCode !== null) throw new Error(`the server exited: ${main.stderr()}`);
      return main.stdout().includes('API reference');
    },
    'the start-up banner',
    60_000,
    50,
  );
  main.child.kill('SIGTERM');
  expect((await main.exited).code).toBe(0);
  return { port, banner: main.stdout() };
}

describe('the start-up banner outside demo mode', () => {
  it('names the URL and transport, and says the admin was created, then that it already existed', async () => {
    const first = await startAndStop({ REDIS_URL: redis.url });
    const base = `http://127.0.0.1:${first.port}`;
    expect(first.banner).toContain(`Ridecast is running at ${base}  (TRANSPORT=redis, READ_MODEL=memory)`);
    expect(first.banner).toContain(`admin account "boss" created with ADMIN_PASSWORD`);
    expect(first.banner).toContain(`API reference: ${base}/docs`);
    expect(first.banner).not.toContain('admin-password-1');

    const second = await startAndStop({ REDIS_URL: redis.url, ADMIN_PASSWORD: 'another-password-2' });
    expect(second.banner).toContain('admin account "boss" already existed: its password is unchanged (ADMIN_PASSWORD was not applied)');
  }, 150_000);
});

describe('a wrong REDIS_URL', () => {
  it.each([
    ['nobody listening', async () => `redis://127.0.0.1:${await freePort()}`, /^ridecast: configuration error: REDIS_URL redis:\/\/127\.0\.0\.1:\d+ does not answer \(.+\)$/],
    ['not a URL', async () => 'localhost 6379', /^ridecast: configuration error: REDIS_URL "localhost 6379" is not a URL/],
    ['another scheme', async () => 'http://127.0.0.1:6379', /^ridecast: configuration error: REDIS_URL must start with redis:\/\/ or rediss:\/\//],
  ])('%s: exits 1 with one line naming REDIS_URL', async (_name, url, expected) => {
    const main = runMain({ ...ENV, REDIS_URL: await url(), PORT: String(await freePort()) });
    const exited = await main.exited;
    expect(exited.code).toBe(1);
    const lines = main.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(expected);
    expect(main.stdout()).toBe('');
  }, 60_000);
});
