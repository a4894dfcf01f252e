import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifiedTokens } from '../adapters/http/verified-tokens.ts';
import { client, startService } from './support/service.ts';
import { testClock } from './support/clock.ts';
import { waitFor } from './support/wait.ts';

/** Verified tokens are remembered by their own string (issue 15): fewer checks, the same refusals. */

describe('verifiedTokens', () => {
  const clock = testClock();
  clock.hold();
  const t0 = clock.now();
  /** A stand-in for the full check: `good.<exp seconds>` passes while the wall of the test clock is before exp. */
  const checked: string[] = [];
  const verify = (token: string) => {
    checked.push(token);
    const [kind, exp] = token.split('.');
    if (kind !== 'good' || Number(exp) * 1000 <= clock.now()) throw new Error('refused');
    return { sub: token, exp: Number(exp) };
  };
  const expIn = (ms: number) => Math.floor((t0 + ms) / 1000);

  it('checks a token once, then answers from memory until its exp, then checks it again (and the check refuses it)', () => {
    const tokens = verifiedTokens({ verify, clock, max: 10, ttlMs: 3_600_000 });
    const token = `good.${expIn(60_000)}`;
    checked.length = 0;
    for (let i = 0; i < 5; i++) expect(tokens.claims(token)).toMatchObject({ sub: token });
    expect(checked).toEqual([token]);
    clock.advance(Number(token.split('.')[1]) * 1000 - clock.now());
    expect(() => tokens.claims(token)).toThrow('refused');
    expect(checked).toEqual([token, token]);
  });

  it('never remembers a refusal: a bad token is checked, and refused, every time', () => {
    const tokens = verifiedTokens({ verify, clock, max: 10, ttlMs: 60_000 });
    tokens.claims(`good.${expIn(3_600_000)}`);
    checked.length = 0;
    for (let i = 0; i < 3; i++) expect(() => tokens.claims(`forged.${expIn(3_600_000)}`)).toThrow('refused');
    expect(checked).toHaveLength(3);
    expect(tokens.size()).toBe(1);
  });

  it('checks a token again after ttlMs, whatever its exp', () => {
    const tokens = verifiedTokens({ verify, clock, max: 10, ttlMs: 5_000 });
    const token = `good.${expIn(3_600_000)}`;
    checked.length = 0;
    tokens.claims(token);
    clock.advance(4_999);
    tokens.claims(token);
    expect(checked).toHaveLength(1);
    clock.advance(1);
    tokens.claims(token);
    expect(checked).toHaveLength(2);
  });

  it('holds at most max tokens, dropping the oldest', () => {
    const tokens = verifiedTokens({ verify, clock, max: 3, ttlMs: 60_000 });
    const many = [1, 2, 3, 4].map((i) => `good.${expIn(3_600_000 + i * 1_000)}`);
    for (const token of many) tokens.claims(token);
    expect(tokens.size()).toBe(3);
    checked.length = 0;
    tokens.claims(many[3]!);
    tokens.claims(many[0]!);
    expect(checked).toEqual([many[0]]);
  });
});

describe('remembered tokens over HTTP', () => {
  let service: Awaited<ReturnType<typeof startService>>;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    service = await startService();
    api = client(service.app);
  });
  afterAll(() => service?.close());

  it('a token that opened a route is refused once it expires, and its tampered twins never open one', async () => {
    const rider = await api.user('rider');
    const shortLived = service.app.jwt.sign({ sub: rider.userId, role: 'rider' }, { expiresIn: 1 });
    expect((await api.get('/v1/rides/r_nothere', shortLived)).status).toBe(404);
    expect((await api.get('/v1/rides/r_nothere', rider.token)).status).toBe(404);
    const [head, body, sig] = rider.token.split('.') as [string, string, string];
    const flipped = `${sig.slice(0, -2)}${sig.at(-2) === 'A' ? 'B' : 'A'}${sig.at(-1)}`;
    const asAdmin = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), role: 'admin' })).toString('base64url');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    for (const twin of [`${head}.${body}.${flipped}`, `${head}.${asAdmin}.${sig}`, `${none}.${body}.`, `${rider.token}x`, `${head}.${body}`])
      expect(await api.get('/v1/rides/r_nothere', twin), twin).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    // The wait is for the exp to pass (a one-second token), polling: remembered past it, this never ends.
    const refused = await waitFor(async () => {
      const res = await api.get('/v1/rides/r_nothere', shortLived);
      return res.status === 401 ? res : null;
    }, 'the short-lived token to be refused', 10_000);
    expect(refused.body).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' });
  });
});
