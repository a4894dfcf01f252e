import type { FastifyInstance } from 'fastify';
import { getInMemoryPaymentLedger } from '../../adapters/memory/payment-ledger.ts';
import { loadConfig } from '../../src/config.ts';
import { makeService, type Infrastructure, type Tuning } from '../../src/wiring.ts';

export const ADMIN = { username: 'admin', password: 'admin-password-1' };

/** A service instance for tests: embedded defaults unless infrastructure is passed, fast timers. */
export async function startService(infra: Infrastructure = {}, tuning: Tuning = {}, env: Record<string, string> = {}) {
  const config = loadConfig({
    TRANSPORT: 'memory',
    JWT_SECRET: 'test-secret-that-is-long-enough',
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_PASSWORD: ADMIN.password,
    DEMO: '0',
    OFFER_TIMEOUT_MS: '3000',
    MATCH_TIMEOUT_MS: '20000',
    RATE_LIMIT_PER_MINUTE: '100000',
    INSTANCE_ID: `test-${Math.random().toString(36).slice(2, 8)}`,
    ...env,
  });
  const ledger = getInMemoryPaymentLedger();
  const service = await makeService(config, { payments: ledger, ...infra }, { retryMs: 200, arrivalRules: { dwellMs: 60_000 }, ...tuning });
  return { ...service, config, ledger };
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A small client over `inject`: JSON in, `{status, body}` out. */
export function client(app: FastifyInstance) {
  async function call(method: 'GET' | 'POST' | 'PUT', url: string, token?: string, payload?: unknown, headers: Record<string, string> = {}) {
    const res = await app.inject({
      method,
      url,
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...headers },
      ...(payload !== undefined && { payload: payload as Json }),
    });
    return { status: res.statusCode, body: (res.body ? JSON.parse(res.body) : null) as Json, headers: res.headers };
  }
  return {
    call,
    get: (url: string, token?: string) => call('GET', url, token),
    post: (url: string, token?: string, payload?: unknown, headers?: Record<string, string>) => call('POST', url, token, payload ?? {}, headers),
    put: (url: string, token?: string, payload?: unknown) => call('PUT', url, token, payload),
    async login(username: string, password: string) {
      const res = await call('POST', '/v1/auth/login', undefined, { username, password });
      if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as { token: string; userId: string; role: string };
    },
    /** Creates a user through the admin API and logs them in. */
    async user(role: 'rider' | 'driver' | 'admin' | 'service', username = `${role}-${Math.random().toString(36).slice(2, 8)}`) {
      const admin = await this.login(ADMIN.username, ADMIN.password);
      const created = await call('POST', '/v1/users', admin.token, { username, password: 'password-123', role });
      if (created.status !== 201) throw new Error(`create ${username}: ${created.status} ${JSON.stringify(created.body)}`);
      return this.login(username, 'password-123');
    },
  };
}
