import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService } from './support/service.ts';
import { connect } from './support/ws.ts';

/** A socket lives no longer than its token, unless the client hands it a fresh one (issue 13, item 5). */
describe('live stream and token expiry', () => {
  let service: Awaited<ReturnType<typeof startService>>;
  beforeAll(async () => {
    service = await startService();
    // A token is honoured only for an account that exists (ACCOUNT_GONE otherwise): stored directly, no password to hash.
    for (const userId of ['u_short', 'u_renew', 'u_someone_else'])
      await service.ctx.users.create({ userId, username: userId, role: 'rider', passwordHash: 'none' });
    await service.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => service?.close());

  const tokenFor = (sub: string, expiresIn: number) => service.app.jwt.sign({ sub, role: 'rider' }, { expiresIn });

  it('closes with 4401 "token expired" when the token runs out', async () => {
    const socket = await connect(service.app, tokenFor('u_short', 2));
    expect((await socket.request({ type: 'ping' }, 'pong')).type).toBe('pong');
    expect(await socket.closed).toEqual({ code: 4401, reason: 'token expired' });
  });

  it('stays open past the first expiry when the client sends a fresh token, and refuses one for someone else', async () => {
    const socket = await connect(service.app, tokenFor('u_renew', 2));
    const other = await socket.request({ type: 'auth', token: tokenFor('u_someone_else', 3600) }, 'error');
    expect(other).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    const bad = await socket.request({ type: 'auth', token: 'not-a-token' }, 'error', (m) => m.code === 'UNAUTHORIZED');
    expect(bad.code).toBe('UNAUTHORIZED');
    const renewed = await socket.request({ type: 'auth', token: tokenFor('u_renew', 4) }, 'authenticated');
    expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.now() + 2_000);
    // Past the first token's expiry (2 s) the socket still answers; the second one (4 s) then closes it.
    const closed = socket.closed;
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const tick = async () => {
        if (Date.now() - started > 2_500) return resolve();
        try {
          await socket.request({ type: 'ping' }, 'pong', undefined, 1_000);
          setTimeout(tick, 200);
        } catch (err) {
          reject(err);
        }
      };
      void tick();
    });
    expect(await closed).toEqual({ code: 4401, reason: 'token expired' });
  });
});
