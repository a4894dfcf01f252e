import type { AddressInfo } from 'node:net';
import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Role } from '../domain/actor.ts';
import type { StreamName } from '../domain/ports/event-log.ts';
import { testClock } from './support/clock.ts';
import { startService } from './support/service.ts';
import { sleep, waitFor } from './support/wait.ts';

/** Limits: requests per user per minute, body size, messages per socket per second, sockets per user. */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Service = Awaited<ReturnType<typeof startService>>;
const STREAMS: StreamName[] = ['rides', 'drivers', 'driver-locations'];
const counts = async (service: Service) => Promise.all(STREAMS.map(async (s) => (await service.ctx.log.read(s)).length));

/** A user made directly (no HTTP, so setting up spends nobody's request budget) and a token for them. */
async function user(service: Service, role: Role) {
  const created = await service.accounts.create(`${role}-${Math.random().toString(36).slice(2, 10)}`, 'password-123', role);
  return { userId: created.userId, token: service.app.jwt.sign({ sub: created.userId, role }) };
}

const expectRateLimited = (res: { statusCode: number; headers: Record<string, unknown>; json: () => Json }) => {
  expect(res.statusCode).toBe(429);
  expect(res.json()).toEqual({ statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests', message: expect.any(String) });
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
};

describe('per-user request rate (RATE_LIMIT_PER_MINUTE=5)', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService({}, {}, { RATE_LIMIT_PER_MINUTE: '5' });
  });
  afterAll(() => service?.close());

  const get = (url: string, token?: string) =>
    service.app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('answers the 6th request in a minute with 429, Retry-After and RATE_LIMITED, per user, appending nothing', async () => {
    const [a, b] = [await user(service, 'rider'), await user(service, 'rider')];
    const before = await counts(service);
    for (let i = 0; i < 5; i++) expect((await get('/v1/rides/r_nothere', a.token)).statusCode).toBe(404);
    expectRateLimited(await get('/v1/rides/r_nothere', a.token));
    // Writes are refused too, before they reach the service.
    const write = await service.app.inject({
      method: 'POST',
      url: '/v1/rides',
      headers: { authorization: `Bearer ${a.token}` },
      payload: { pickup: { lat: 38.72, lng: -9.14 }, dropoff: { lat: 38.73, lng: -9.14 } },
    });
    expectRateLimited(write);
    // Another user from the same address has a budget of their own.
    for (let i = 0; i < 5; i++) expect((await get('/v1/rides/r_nothere', b.token)).statusCode).toBe(404);
    expectRateLimited(await get('/v1/rides/r_nothere', b.token));
    // Liveness and readiness are never limited.
    for (let i = 0; i < 10; i++) expect((await get('/healthz')).statusCode).toBe(200);
    expect((await get('/readyz')).statusCode).toBe(200);
    expect(await counts(service)).toEqual(before);
  });

  it('counts requests without a valid token against the address, so a forged token cannot drain a user', async () => {
    const victim = await user(service, 'rider');
    const forged = `${victim.token.slice(0, victim.token.lastIndexOf('.'))}.c2lnbmF0dXJl`;
    // The address's budget: anonymous logins and forged tokens share it.
    for (let i = 0; i < 3; i++)
      expect((await service.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username: 'nobody', password: 'wrong-password' } })).statusCode).toBe(401);
    for (let i = 0; i < 2; i++) expect((await get('/v1/rides/r_nothere', forged)).statusCode).toBe(401);
    expectRateLimited(await get('/v1/rides/r_nothere', forged));
    expectRateLimited(await service.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username: 'nobody', password: 'wrong-password' } }));
    // The victim's own budget is untouched.
    for (let i = 0; i < 5; i++) expect((await get('/v1/rides/r_nothere', victim.token)).statusCode).toBe(404);
    expectRateLimited(await get('/v1/rides/r_nothere', victim.token));
  });

  it('limits socket upgrades with the same budget', async () => {
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = service.app.server.address() as AddressInfo;
    const a = await user(service, 'rider');
    for (let i = 0; i < 5; i++) expect((await get('/v1/rides/r_nothere', a.token)).statusCode).toBe(404);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream?access_token=${a.token}`);
      ws.once('open', () => reject(new Error('the socket opened')));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.once('error', () => undefined);
    });
    expect(answer.status).toBe(429);
    expect(JSON.parse(answer.body)).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
  });
});

describe('body size limit (64 KiB)', () => {
  let service: Service;
  let port: number;
  let driver: { userId: string; token: string };
  beforeAll(async () => {
    service = await startService();
    driver = await user(service, 'driver');
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    port = (service.app.server.address() as AddressInfo).port;
  });
  afterAll(() => service?.close());

  /** A JSON body of exactly `size` bytes (valid JSON, with a field the schema refuses). */
  const bodyOf = (size: number) => {
    const shell = JSON.stringify({ lat: 1, lng: 1, recordedAt: 1, pad: '' });
    return shell.replace('"pad":""', `"pad":"${'x'.repeat(size - shell.length)}"`);
  };
  const post = (payload: string) =>
    service.app.inject({
      method: 'POST',
      url: '/v1/drivers/me/locations',
      headers: { authorization: `Bearer ${driver.token}`, 'content-type': 'application/json' },
      payload,
    });

  it('reads a body of exactly the limit and refuses one byte more with 413 BODY_TOO_LARGE', async () => {
    const before = await counts(service);
    expect(bodyOf(64 * 1024)).toHaveLength(64 * 1024);
    const atLimit = await post(bodyOf(64 * 1024));
    expect(atLimit.statusCode).toBe(400);
    expect(atLimit.json()).toMatchObject({ code: 'VALIDATION_ERROR', message: 'body.pad is not allowed' });
    const over = await post(bodyOf(64 * 1024 + 1));
    expect(over.statusCode).toBe(413);
    expect(over.json()).toEqual({ statusCode: 413, code: 'BODY_TOO_LARGE', error: 'Payload Too Large', message: expect.any(String) });
    expect(await counts(service)).toEqual(before);
  });

  /** Raw HTTP/1.1 over a socket: what a client that lies or streams sends. Resolves with the status line and body. */
  function raw(request: string, body: Buffer | null, chunks = 1): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (d) => {
        text += d.toString();
        const split = text.indexOf('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(text)?.[1];
        if (split >= 0 && length !== undefined && text.length - split - 4 >= Number(length)) {
          socket.destroy();
          resolve({ status: Number(text.split(' ')[1]), body: text.slice(split + 4) });
        }
      });
      socket.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
      socket.on('close', () => resolve({ status: Number(text.split(' ')[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) }));
      socket.write(request);
      if (body) {
        const size = Math.ceil(body.length / chunks);
        for (let i = 0; i < body.length; i += size) {
          const part = body.subarray(i, i + size);
          socket.write(`${part.length.toString(16)}\r\n`);
          socket.write(part);
          socket.write('\r\n');
        }
        socket.write('0\r\n\r\n');
      }
    });
  }

  it('refuses a streamed (chunked) body that grows past the limit, and a Content-Length over it', async () => {
    const before = await counts(service);
    const head = (extra: string) =>
      `POST /v1/drivers/me/locations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${driver.token}\r\nContent-Type: application/json\r\n${extra}\r\n`;
    const chunked = await raw(head('Transfer-Encoding: chunked\r\n'), Buffer.from(bodyOf(200 * 1024)), 50);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ statusCode: 413, code: 'BODY_TOO_LARGE' });
    const declared = await raw(head('Content-Length: 10000000\r\n'), null);
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body)).toMatchObject({ statusCode: 413, code: 'BODY_TOO_LARGE' });
    expect(await counts(service)).toEqual(before);
    expect((await service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('live stream limits (defaults: 50 messages per second per socket, 20 sockets per user)', () => {
  let service: Service;
  let base: string;
  // The limiter refills by the service's clock: held still, a flood meets exactly the burst,
  // however slowly a busy machine reads it.
  const clock = testClock();
  beforeAll(async () => {
    service = await startService({}, { now: clock.now });
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(service.app.server.address() as AddressInfo).port}/v1/stream`;
  });
  afterAll(() => service?.close());

  /** Opens a socket; resolves with it, or with the refused upgrade's status and body. */
  function open(token: string): Promise<{ ws: WebSocket; received: Json[] } | { status: number; body: Json }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base}?access_token=${token}`);
      const received: Json[] = [];
      ws.on('message', (d) => received.push(JSON.parse(d.toString()) as Json));
      ws.once('open', () => resolve({ ws, received }));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as Json }));
      });
      ws.once('error', (err) => (/Unexpected server response/.test(err.message) ? undefined : reject(err)));
    });
  }
  const socketOf = async (token: string) => {
    const s = await open(token);
    if (!('ws' in s)) throw new Error(`upgrade refused: ${s.status}`);
    return s;
  };

  it('answers a flood on one socket with RATE_LIMITED errors, keeps it open, and lets it speak again after a second', async () => {
    const rider = await user(service, 'rider');
    clock.hold();
    const [flooded, calm] = [await socketOf(rider.token), await socketOf(rider.token)];
    for (let i = 0; i < 200; i++) flooded.ws.send('{"type":"ping"}');
    await waitFor(() => flooded.received.length >= 200, 'an answer to every message');
    const pongs = flooded.received.filter((m) => m.type === 'pong').length;
    const limited = flooded.received.filter((m) => m.type === 'error' && m.code === 'RATE_LIMITED');
    // A burst of 100 (twice the rate); time stands still, so nothing refills.
    expect(pongs).toBe(100);
    expect(limited.length).toBe(200 - pongs);
    expect(limited[0]).toEqual({ type: 'error', code: 'RATE_LIMITED', message: expect.any(String) });
    expect(flooded.ws.readyState).toBe(WebSocket.OPEN);
    // The limit is the socket's: the same user's other socket is not affected.
    calm.ws.send('{"type":"ping"}');
    await waitFor(() => calm.received.some((m) => m.type === 'pong'), 'the calm socket to answer');
    clock.advance(1_100);
    const from = flooded.received.length;
    flooded.ws.send('{"type":"ping"}');
    await waitFor(() => flooded.received.length > from, 'an answer after the pause');
    expect(flooded.received[from]).toEqual({ type: 'pong' });
    clock.release();
    flooded.ws.close();
    calm.ws.close();
  });

  it('appends only what it acknowledged when a driver floods locations', async () => {
    const driver = await user(service, 'driver');
    clock.hold();
    const s = await socketOf(driver.token);
    const before = (await service.ctx.log.read('driver-locations')).length;
    const t0 = Date.now() - 200_000;
    for (let i = 0; i < 150; i++) s.ws.send(JSON.stringify({ type: 'location', lat: 38.72 + i * 1e-5, lng: -9.14, recordedAt: t0 + i * 1_000 }));
    await waitFor(() => s.received.length >= 150, 'an answer to every location');
    const acked = s.received.filter((m) => m.type === 'location.ack').reduce((n, m) => n + (m.accepted as number), 0);
    expect(s.received.filter((m) => m.code === 'RATE_LIMITED').length).toBeGreaterThan(0);
    expect(acked).toBeGreaterThan(0);
    expect(acked).toBeLessThanOrEqual(100);
    await waitFor(async () => (await service.ctx.log.read('driver-locations')).length - before === acked, 'the acknowledged points in the log');
    // Nothing refused lands later: a sentinel point sent after the flood is the next and only addition.
    clock.advance(1_000);
    const sentinel = s.received.length;
    s.ws.send(JSON.stringify({ type: 'location', lat: 38.73, lng: -9.14, recordedAt: t0 + 151_000 }));
    await waitFor(() => s.received.length > sentinel, 'the sentinel answered');
    expect(s.received[sentinel]).toMatchObject({ type: 'location.ack', accepted: 1 });
    await waitFor(async () => (await service.ctx.log.read('driver-locations')).length - before === acked + 1, 'the sentinel in the log');
    clock.release();
    s.ws.close();
  });

  it('caps sockets per user at 20 with 429 TOO_MANY_SOCKETS, even when they arrive at once, and frees a slot on close', async () => {
    const rider = await user(service, 'rider');
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 20; i++) sockets.push((await socketOf(rider.token)).ws);
    const refused = await open(rider.token);
    expect(refused).toEqual({ status: 429, body: { statusCode: 429, code: 'TOO_MANY_SOCKETS', error: 'Too Many Requests', message: expect.any(String) } });
    // Another user is not affected.
    const other = await user(service, 'rider');
    const theirs = await socketOf(other.token);
    // Closing one frees its slot.
    sockets.pop()!.close();
    await waitFor(() => service.ridecast.hub.socketsOf(rider.userId) === 19, 'the slot to be freed');
    sockets.push((await socketOf(rider.token)).ws);
    for (const ws of [...sockets, theirs.ws]) ws.close();

    // Thirty at once, from a fresh user: never more than twenty open.
    const burst = await user(service, 'rider');
    const outcomes = await Promise.all(Array.from({ length: 30 }, () => open(burst.token)));
    const opened = outcomes.filter((o): o is { ws: WebSocket; received: Json[] } => 'ws' in o);
    expect(opened.length).toBeLessThanOrEqual(20);
    expect(outcomes.filter((o) => 'status' in o && o.status === 429)).toHaveLength(30 - opened.length);
    expect(service.ridecast.hub.socketsOf(burst.userId)).toBeLessThanOrEqual(20);
    for (const o of opened) o.ws.close();
  });
});
