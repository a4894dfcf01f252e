import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';
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
    const first = tokenFor('u_renew', 2);
    const firstExpiresAt = (JSON.parse(Buffer.from(first.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp * 1000;
    const socket = await connect(service.app, first);
    const other = await socket.request({ type: 'auth', token: tokenFor('u_someone_else', 3600) }, 'error');
    expect(other).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    const bad = await socket.request({ type: 'auth', token: 'not-a-token' }, 'error', (m) => m.code === 'UNAUTHORIZED');
    expect(bad.code).toBe('UNAUTHORIZED');
    const renewed = await socket.request({ type: 'auth', token: tokenFor('u_renew', 5) }, 'authenticated');
    expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.now() + 2_000);
    // The socket still answers once the first token has expired (its expiry is a real timer in the
    // service: the wait is for that moment, with pings all along), and the second token then closes it.
    const closed = socket.closed;
    await waitFor(
      async () => {
        const asked = Date.now();
        await socket.request({ type: 'ping' }, 'pong', undefined, 1_000);
        return asked > firstExpiresAt + 250;
      },
      'a pong to a ping sent after the first token expired',
      10_000,
      200,
    );
    expect(await closed).toEqual({ code: 4401, reason: 'token expired' });
  });
});
