import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { getRedisStores } from '../adapters/redis/stores.ts';
import { getRedisUserStore, KNOWN_ACCOUNTS } from '../adapters/redis/users.ts';
import type { User } from '../domain/ports/users.ts';
import { client, startService } from './support/service.ts';
import { testClock } from './support/clock.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { waitFor } from './support/wait.ts';

/**
 * The account check asks Redis once, then remembers the account (issue 15); a token must still be
 * refused with ACCOUNT_GONE once the user store has lost the account. Real redis-server, no persistence.
 */

const user = (userId: string): User => ({ userId, username: userId, role: 'rider', passwordHash: 'none' });
const ready = (redis: Redis) => (redis.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => redis.once('ready', () => resolve())));

describe('accounts remembered by the Redis user store (real redis-server, no persistence)', () => {
  let server: RedisServer;
  let redis: Redis;
  let admin: Redis;
  const clock = testClock();
  let store: ReturnType<typeof getRedisUserStore>;
  let prefix = '';
  let n = 0;

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    admin = new Redis(server.url);
    admin.on('error', () => undefined);
  });
  afterAll(async () => {
    redis?.disconnect();
    admin?.disconnect();
    await server?.stop();
  });
  beforeEach(() => {
    clock.release();
    clock.hold();
    prefix = `known${++n}:`;
    store = getRedisUserStore(redis, prefix, { clock });
  });

  it('asks Redis once for an account it saw, and not again while the store is known to have it', async () => {
    await store.create(user('u_1'));
    const hexists = vi.spyOn(redis, 'hexists');
    expect(await store.exists!('u_1')).toBe(true);
    expect(await store.exists!('u_1')).toBe(true); // confirms the epoch (first sight)
    expect(await store.exists!('u_1')).toBe(true);
    expect(await store.exists!('u_1')).toBe(true);
    expect(hexists).toHaveBeenCalledTimes(1);
    hexists.mockRestore();
  });

  it('never remembers an absence: an account created after a miss is seen at once', async () => {
    expect(await store.exists!('u_later')).toBe(false);
    await store.create(user('u_later'));
    expect(await store.exists!('u_later')).toBe(true);
  });

  it('Redis restarted without persistence: the remembered account is refused at once (clock held still)', async () => {
    await store.create(user('u_restart'));
    expect(await store.exists!('u_restart')).toBe(true);
    expect(await store.exists!('u_restart')).toBe(true);
    await server.restart();
    await ready(redis);
    // Held clock: no epoch read is due and no entry has aged, so only the lost connection can tell.
    expect(await store.exists!('u_restart')).toBe(false);
    expect(await admin.hexists(`${prefix}{users}:by-id`, 'u_restart')).toBe(0);
  });

  it('FLUSHALL with the connection up: refused once the epoch is next read, at most confirmEveryMs later', async () => {
    await store.create(user('u_flush'));
    expect(await store.exists!('u_flush')).toBe(true);
    expect(await store.exists!('u_flush')).toBe(true);
    await admin.flushall();
    // The documented window: the epoch was read less than confirmEveryMs ago.
    expect(await store.exists!('u_flush')).toBe(true);
    clock.advance(KNOWN_ACCOUNTS.confirmEveryMs);
    expect(await store.exists!('u_flush')).toBe(false);
  });

  it('a loss no signal shows (the account deleted by hand, epoch intact): refused once rememberMs has passed', async () => {
    await store.create(user('u_deleted'));
    expect(await store.exists!('u_deleted')).toBe(true);
    await admin.hdel(`${prefix}{users}:by-id`, 'u_deleted');
    clock.advance(KNOWN_ACCOUNTS.rememberMs - 1);
    expect(await store.exists!('u_deleted')).toBe(true);
    clock.advance(1);
    expect(await store.exists!('u_deleted')).toBe(false);
  });
});

describe('ACCOUNT_GONE after Redis restarts without persistence (the service, real redis-server)', () => {
  let server: RedisServer;
  let service: Awaited<ReturnType<typeof startService>>;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    server = await startRedis();
    const stores = getRedisStores(server.url, 'gone:', { warn() {} });
    service = await startService({ users: stores.users, attempts: stores.attempts, claims: stores.claims, close: async () => void (await stores.close()) });
    api = client(service.app);
  });
  afterAll(async () => {
    await service?.close();
    await server?.stop();
  });

  it('refuses the stale token with 401 ACCOUNT_GONE on its first answer after the restart, whatever the clock', async () => {
    const rider = await api.user('rider');
    // Seen to exist, and remembered.
    for (let i = 0; i < 3; i++) expect((await api.get('/v1/rides/r_nothere', rider.token)).status).toBe(404);
    await server.restart();
    // While the client reconnects a request may answer 503; the first other answer must be the refusal.
    const answer = await waitFor(async () => {
      const res = await api.get('/v1/rides/r_nothere', rider.token);
      return res.status === 503 ? null : res;
    }, 'an answer that is not 503');
    expect(answer).toMatchObject({ status: 401, body: { statusCode: 401, code: 'ACCOUNT_GONE', error: 'Unauthorized' } });
  });
});
