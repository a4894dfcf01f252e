import { createServer, connect as tcpConnect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { killStartedMains, runMain } from './support/main-process.ts';
import WebSocket from 'ws';
import { freePort } from './support/net.ts';
import { waitFor } from './support/wait.ts';

/**
 * The server entry as a real process: a graceful stop on SIGTERM (sockets told 1001 "going away",
 * the request in flight answered, exit 0 within 10 s), and start-up refused with one clear line
 * when a setting is missing.
 */

const ADMIN = { username: 'admin', password: 'admin-password-1' };
const BASE_ENV = {
  TRANSPORT: 'memory',
  DEMO: '0',
  SIMULATE: '0',
  HOST: '127.0.0.1',
  JWT_SECRET: 'shutdown-test-secret-long-enough',
  ADMIN_USERNAME: ADMIN.username,
  ADMIN_PASSWORD: ADMIN.password,
  LOG_LEVEL: 'warn',
};

afterAll(killStartedMains);

/** A raw HTTP/1.1 exchange we control byte by byte: the request can be left half-sent. */
function rawRequest(port: number, head: string) {
  const socket = tcpConnect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (d) => (text += d.toString()));
  const ended = new Promise<string>((resolve, reject) => {
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  socket.write(head);
  return { socket, ended, received: () => text };
}

describe('graceful shutdown on SIGTERM', () => {
  it('closes sockets with 1001, finishes the request in flight, refuses new ones and exits 0 within 10 s', async () => {
    const port = await freePort();
    const main = runMain({ ...BASE_ENV, PORT: String(port) });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => {
        if (main.child.exitCode !== null) throw new Error(`the server exited: ${main.stderr()}`);
        return (await fetch(`${base}/healthz`).catch(() => null))?.status === 200;
      },
      'the server to answer',
      // Start-up is a tsx transform of the whole app: on a loaded 2-core machine that takes tens of seconds.
      60_000,
      100,
    );
    const login = (await (await fetch(`${base}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    })).json()) as { token: string };

    // A live socket, subscribed to the fleet.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`, { headers: { authorization: `Bearer ${login.token}` } });
    const received: { type: string }[] = [];
    ws.on('message', (d) => received.push(JSON.parse(d.toString()) as { type: string }));
    const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })),
    );
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send('{"type":"subscribe","fleet":true}');
    await waitFor(() => received.some((m) => m.type === 'fleet.snapshot'), 'the fleet snapshot');

    // A request in flight: its headers and half its body are in, the rest comes after the signal.
    // `Expect: 100-continue` makes the server say when it has taken the request: Node answers
    // "100 Continue" as it hands the request to the app, so from then on it is in flight.
    const body = JSON.stringify(ADMIN);
    const half = Math.floor(body.length / 2);
    const inFlight = rawRequest(
      port,
      `POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n${body.slice(0, half)}`,
    );
    await waitFor(() => /^HTTP\/1\.1 100 Continue\r\n\r\n/.test(inFlight.received()), 'the server to take the request (100 Continue)');

    const signalledAt = Date.now();
    main.child.kill('SIGTERM');
    const close = await closed;
    expect(close.code).toBe(1001);
    expect(close.at - signalledAt).toBeLessThan(5_000);

    // New connections are no longer taken (refused, or answered 503 while closing).
    const late = await fetch(`${base}/healthz`).then((r) => r.status, (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message);
    expect([503, 'ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET']).toContain(late);

    // The request in flight still gets its answer.
    inFlight.socket.write(body.slice(half));
    const answer = (await inFlight.ended).replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    // …and says the connection ends with it, so a keep-alive client cannot hold the stop open.
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ tokenType: 'Bearer', role: 'admin' });

    const exit = await main.exited;
    expect(exit, main.stdout()).toMatchObject({ code: 0, signal: null });
    expect(exit.at - signalledAt).toBeLessThan(10_000);
    expect(main.stderr()).toBe('');
  }, 120_000);
});

describe('start-up with a missing or wrong setting', () => {
  it.each([
    ['JWT_SECRET missing outside the demo', { TRANSPORT: 'memory', DEMO: '0', ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: 'admin-password-1' }, 'JWT_SECRET'],
    ['JWT_SECRET too short', { ...BASE_ENV, JWT_SECRET: 'short' }, 'JWT_SECRET'],
    ['ADMIN_PASSWORD missing outside the demo', { TRANSPORT: 'memory', DEMO: '0', JWT_SECRET: BASE_ENV.JWT_SECRET }, 'ADMIN_PASSWORD'],
    ['PORT not a number', { ...BASE_ENV, PORT: 'eighty' }, 'PORT'],
  ])('stops with exit 1 and one line naming it: %s', async (_label, env, name) => {
    const main = runMain(env);
    const exit = await main.exited;
    expect(exit).toMatchObject({ code: 1, signal: null });
    const lines = main.stderr().trim().split('\n');
    expect(lines, main.stderr()).toHaveLength(1);
    expect(lines[0]).toMatch(/^ridecast: configuration error: /);
    expect(lines[0]).toContain(name);
    expect(main.stdout()).toBe('');
  }, 60_000);

  it('stops with exit 1 and one line when the port is taken', async () => {
    const port = await freePort();
    const squatter = createServer().listen(port, '127.0.0.1');
    await new Promise((resolve) => squatter.once('listening', resolve));
    try {
      const main = runMain({ ...BASE_ENV, PORT: String(port) });
      expect(await main.exited).toMatchObject({ code: 1, signal: null });
      const lines = main.stderr().trim().split('\n');
      expect(lines, main.stderr()).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^ridecast: start-up failed: .*EADDRINUSE.*${port}`));
    } finally {
      squatter.close();
    }
  }, 60_000);
});
