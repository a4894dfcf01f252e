import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { getRedisStores } from '../adapters/redis/stores.ts';
import { hashPassword, makeAccounts, verifyPassword } from '../src/app/accounts.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { getInMemoryUserStore } from '../adapters/memory/users.ts';
import { getInMemoryAttemptCounter } from '../adapters/memory/attempts.ts';
import { startService } from './support/service.ts';

/** Password guessing and account discovery (issue 13, item 4). */

type Service = Awaited<ReturnType<typeof startService>>;
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const pickup = { lat: 38.7223, lng: -9.1393 };
const dropoff = { lat: 38.7369, lng: -9.1427 };

function expectThrottled(res: { statusCode: number; headers: Record<string, unknown>; json: () => Json }) {
  expect(res.statusCode).toBe(429);
  expect(res.json()).toEqual({ statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests', message: expect.any(String) });
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
}

describe('failed logins (LOGIN_FAILURES_PER_ACCOUNT=5, LOGIN_FAILURES_PER_ADDRESS=12)', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService({}, {}, { LOGIN_FAILURES_PER_ACCOUNT: '5', LOGIN_FAILURES_PER_ADDRESS: '12', LOGIN_FAILURE_WINDOW_SECONDS: '600' });
  });
  afterAll(() => service?.close());

  const login = (username: string, password: string, from = '10.0.0.1', authorization?: string) =>
    service.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      remoteAddress: from,
      headers: authorization ? { authorization } : {},
      payload: { username, password },
    });

  /** Every token a caller could get hold of: a user's own, a fresh one, share tokens of two rides. */
  async function tokens(): Promise<string[]> {
    const rider = await service.accounts.create(`tok-${Math.random().toString(36).slice(2, 8)}`, 'password-123', 'rider');
    const own = (await login(rider.username, 'password-123', '10.9.9.9')).json().token as string;
    const auth = { authorization: `Bearer ${own}` };
    const share = async () => {
      const ride = await service.app.inject({ method: 'POST', url: '/v1/rides', headers: auth, payload: { pickup, dropoff } });
      const { rideId } = ride.json();
      const token = (await service.app.inject({ method: 'POST', url: `/v1/rides/${rideId}/share`, headers: auth })).json().token as string;
      await service.app.inject({ method: 'POST', url: `/v1/rides/${rideId}/cancel`, headers: auth, payload: {} });
      return token;
    };
    return [own, service.app.jwt.sign({ sub: rider.userId, role: 'rider' }), await share(), await share()].map((t) => `Bearer ${t}`);
  }

  it('refuses the 6th guess at one account with 429 and Retry-After, even with the right password, from any address and with any token', async () => {
    const victim = await service.accounts.create('victim-1', 'right-password-1', 'rider');
    const headers = await tokens();
    for (let i = 0; i < 5; i++) expect((await login(victim.username, `wrong-${i}-password`, `10.1.0.${i}`, headers[i % headers.length])).statusCode).toBe(401);
    for (const [i, authorization] of headers.entries()) expectThrottled(await login(victim.username, 'right-password-1', `10.2.0.${i}`, authorization));
    expectThrottled(await login('VICTIM-1', 'right-password-1', '10.3.0.1'));
    // Another account is not affected.
    const other = await service.accounts.create('bystander-1', 'right-password-2', 'rider');
    expect((await login(other.username, 'right-password-2', '10.1.0.1')).statusCode).toBe(200);
  });

  it('throttles an unknown name exactly like a known one, so the answer does not tell which exist', async () => {
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) answers.push((await login('nobody-by-this-name', `guess-${i}-password`, `10.4.0.${i}`)).statusCode);
    expect(answers).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('refuses an address that guesses across many accounts, whatever token it sends; other addresses still log in', async () => {
    const headers = await tokens();
    const statuses: number[] = [];
    for (let i = 0; i < 13; i++) statuses.push((await login(`spray-${i}`, 'password-123', '10.5.5.5', headers[i % headers.length])).statusCode);
    expect(statuses).toEqual([...Array(12).fill(401), 429]);
    const real = await service.accounts.create('spray-real', 'password-123', 'rider');
    expectThrottled(await login(real.username, 'password-123', '10.5.5.5'));
    expect((await login(real.username, 'password-123', '10.5.5.6')).statusCode).toBe(200);
  });

  it('many parallel logins with the right password (a service, a test harness) are never throttled', async () => {
    const user = await service.accounts.create('busy-1', 'right-password-4', 'service');
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => login(user.username, 'right-password-4', `10.8.0.${i % 2}`)));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(20).fill(200));
  });

  it('a successful login clears the account count, so a typo or two never add up to a lockout', async () => {
    const user = await service.accounts.create('typo-1', 'right-password-3', 'rider');
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3; i++) expect((await login(user.username, 'typo-password', `10.6.${round}.${i}`)).statusCode).toBe(401);
      expect((await login(user.username, 'right-password-3', `10.6.${round}.9`)).statusCode).toBe(200);
    }
  });
});

describe('the general rate limit cannot be multiplied with tokens (RATE_LIMIT_PER_MINUTE=6)', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService({}, {}, { RATE_LIMIT_PER_MINUTE: '6' });
  });
  afterAll(() => service?.close());

  it('share tokens of many rides draw on one budget, and a valid token buys no second login budget', async () => {
    const rider = await service.accounts.create('sharer-1', 'password-123', 'rider');
    const own = service.app.jwt.sign({ sub: rider.userId, role: 'rider' });
    // Share tokens for three rides, signed as the share route signs them (no request budget spent).
    const shares = ['r_a', 'r_b', 'r_c'].map((rideId) => service.app.jwt.sign({ sub: `share:${rideId}`, role: 'rider', share: rideId }));
    const from = '10.7.0.1';
    const answered: number[] = [];
    for (const token of shares)
      for (let i = 0; i < 4; i++)
        answered.push((await service.app.inject({ method: 'GET', url: '/v1/rides/r_a', remoteAddress: from, headers: { authorization: `Bearer ${token}` } })).statusCode);
    // One budget of 6 for the address, not 6 per ride.
    expect(answered.filter((s) => s !== 429)).toHaveLength(6);

    // Logins count against the address whatever token comes with them.
    const logins: number[] = [];
    for (let i = 0; i < 3; i++)
      logins.push(
        (await service.app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: '10.7.0.2', headers: { authorization: `Bearer ${own}` }, payload: { username: 'sharer-1', password: 'password-123' } })).statusCode,
      );
    for (let i = 0; i < 4; i++)
      logins.push((await service.app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: '10.7.0.2', payload: { username: 'sharer-1', password: 'password-123' } })).statusCode);
    expect(logins).toEqual([200, 200, 200, 200, 200, 200, 429]);
  });
});

describe('usernames are one account ignoring case and Unicode compatibility forms', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService();
  });
  afterAll(() => service?.close());

  it('refuses Admin2 / ADMIN2 / admin2 once one exists (409 USERNAME_TAKEN) and logs in with any of them', async () => {
    const admin = await service.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username: 'admin', password: 'admin-password-1' } });
    const auth = { authorization: `Bearer ${admin.json().token}` };
    const create = (username: string) =>
      service.app.inject({ method: 'POST', url: '/v1/users', headers: auth, payload: { username, password: 'password-123', role: 'rider' } });
    const first = await create('Carol.Two');
    expect(first.statusCode).toBe(201);
    expect(first.json().username).toBe('Carol.Two');
    for (const name of ['carol.two', 'CAROL.TWO', 'cArOl.TwO']) {
      expect((await create(name)).json()).toEqual({ statusCode: 409, code: 'USERNAME_TAKEN', error: 'Conflict', message: `username ${name} is taken` });
    }
    // The configured admin, in any case.
    expect((await create('ADMIN')).statusCode).toBe(409);
    for (const name of ['Carol.Two', 'carol.two', 'ＣＡＲＯＬ．ＴＷＯ']) {
      const res = await service.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username: name, password: 'password-123' } });
      expect(res.statusCode).toBe(200);
      expect(res.json().userId).toBe(first.json().userId);
    }
  });
});

describe('login takes the same work for unknown and known names', () => {
  it('verifies the password against a dummy hash when the name is unknown', async () => {
    const users = getInMemoryUserStore();
    let n = 0;
    const verified: string[] = [];
    const accounts = makeAccounts(users, (p) => `${p}_${++n}`, {
      attempts: getInMemoryAttemptCounter(),
      verifyPassword: (password, hash) => (verified.push(hash), verifyPassword(password, hash)),
    });
    await accounts.create('known-1', 'password-123', 'rider');
    await expect(accounts.login('known-1', 'wrong-password', '1.1.1.1')).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    await expect(accounts.login('unknown-1', 'wrong-password', '1.1.1.1')).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(verified).toHaveLength(2);
    // The same scrypt parameters, so the same cost.
    const params = (h: string) => h.split('$').slice(0, 4).join('$');
    expect(params(verified[1]!)).toBe(params(verified[0]!));
  });
});

describe('accounts stored before names were folded (Redis)', () => {
  let server: RedisServer;
  let service: Service | undefined;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await service?.close();
    await server?.stop();
  });

  it('keep logging in by their name, and their name is taken in every case and width', async () => {
    const prefix = 'legacy:';
    const redis = new Redis(server.url);
    // As the old store wrote them: indexed by the name as written. Two that differ only by case both keep working.
    const legacy = [
      { userId: 'u_old1', username: 'Dave.Old', role: 'rider', passwordHash: await hashPassword('password-dave') },
      { userId: 'u_old2', username: 'dave.old', role: 'rider', passwordHash: await hashPassword('password-dave2') },
      { userId: 'u_old3', username: 'Erin.Old', role: 'rider', passwordHash: await hashPassword('password-erin') },
    ];
    for (const u of legacy) {
      await redis.hset(`${prefix}{users}:by-name`, u.username, u.userId);
      await redis.hset(`${prefix}{users}:by-id`, u.userId, JSON.stringify(u));
    }
    await redis.quit();
    const stores = getRedisStores(server.url, prefix, { warn() {} });
    service = await startService({ claims: stores.claims, users: stores.users, attempts: stores.attempts, close: async () => void (await stores.close()) });
    const login = (username: string, password: string) =>
      service!.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username, password } });
    expect((await login('Dave.Old', 'password-dave')).json().userId).toBe('u_old1');
    expect((await login('dave.old', 'password-dave2')).json().userId).toBe('u_old2');
    // Another form of the name reaches the account that owns its folded form.
    expect((await login('ＤＡＶＥ.ＯＬＤ', 'password-dave2')).json().userId).toBe('u_old2');
    expect((await login('dAvE.oLd', 'password-dave2')).json().userId).toBe('u_old2');
    expect((await login('ERIN.OLD', 'password-erin')).json().userId).toBe('u_old3');
    await expect(service.accounts.create('erin.old', 'password-123', 'rider')).rejects.toMatchObject({ code: 'USERNAME_TAKEN' });
    await expect(service.accounts.create('DAVE.OLD', 'password-123', 'rider')).rejects.toMatchObject({ code: 'USERNAME_TAKEN' });
  });
});
