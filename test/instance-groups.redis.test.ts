import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAMS } from '../domain/ports/event-log.ts';
import { loadConfig } from '../src/config.ts';
import { makeInfrastructure } from '../src/infrastructure.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { startService } from './support/service.ts';

/**
 * Consumer groups of one instance: an instance's own groups (`local-<INSTANCE_ID>`) are reset when it
 * starts and removed when it stops gracefully, so restarts under the same INSTANCE_ID do not pile
 * groups up on the streams (before: the id carried the pid, and every restart left its groups behind).
 */
describe('instance-local consumer groups on Redis', () => {
  let redis: RedisServer;
  let raw: Redis;
  const prefix = `groups${process.pid}:`;
  const env = { TRANSPORT: 'redis', STREAM_PREFIX: prefix, INSTANCE_ID: 'instance-a', CLAIM_IDLE_MS: '1000' };
  const quiet = { info() {}, warn() {}, error() {} };

  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url, { protocol: 2 });
  }, 30_000);
  afterAll(async () => {
    raw?.disconnect();
    await redis?.stop();
  });

  /** Every group on every stream key of this deployment, as `<key> <group>`. */
  async function groups(): Promise<string[]> {
    const keys = (await raw.keys(`${prefix}*`)).filter((k) => (STREAMS as readonly string[]).some((s) => k.startsWith(`${prefix}{${s}`)) && !/:(v|dead|k:.*)$/.test(k));
    const out: string[] = [];
    for (const key of keys) {
      if ((await raw.type(key)) !== 'stream') continue;
      const info = (await raw.call('XINFO', 'GROUPS', key)) as string[][];
      for (const g of info) out.push(`${key} ${g[g.indexOf('name') + 1]}`);
    }
    return out.sort();
  }

  async function runOnce() {
    const config = loadConfig({ ...env, REDIS_URL: redis.url, JWT_SECRET: 'test-secret-that-is-long-enough', ADMIN_PASSWORD: 'admin-password-1', DEMO: '0' });
    const infra = await makeInfrastructure(config, quiet);
    const service = await startService(infra, {}, { ...env, REDIS_URL: redis.url });
    const running = await groups();
    await service.close();
    return { running, stopped: await groups() };
  }

  it('given the same INSTANCE_ID, when the service starts and stops twice, then the number of groups does not grow', async () => {
    const first = await runOnce();
    expect(first.running.filter((g) => g.endsWith(' local-instance-a')).length).toBeGreaterThan(0);
    const second = await runOnce();
    expect(second.running).toEqual(first.running);
    expect(second.stopped).toEqual(first.stopped);
    // Only the shared work-sharing groups (matcher, reactions, …) outlive an instance.
    expect(second.stopped.filter((g) => g.includes('local-'))).toEqual([]);
  }, 60_000);
});
