import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killStartedMains, runMain } from './support/main-process.ts';
import WebSocket from 'ws';
import { freePort } from './support/net.ts';
import { waitFor } from './support/wait.ts';

/**
 * The server entry as a real process with TLS_CERT / TLS_KEY: HTTPS and WSS with a certificate
 * made here (checked against it, not waved through), and one clear line for a bad TLS setting.
 */

const ADMIN = { username: 'admin', password: 'admin-password-1' };
const BASE_ENV = {
  TRANSPORT: 'memory',
  DEMO: '0',
  SIMULATE: '0',
  HOST: '127.0.0.1',
  JWT_SECRET: 'tls-test-secret-that-is-long-enough',
  ADMIN_USERNAME: ADMIN.username,
  ADMIN_PASSWORD: ADMIN.password,
  LOG_LEVEL: 'warn',
};



afterAll(killStartedMains);

let dir: string;
let cert: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ridecast-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=other', '-days', '1', '-keyout', join(dir, 'other-key.pem'), '-out', join(dir, 'other-cert.pem')], { stdio: 'ignore' });
  writeFileSync(join(dir, 'garbage.pem'), 'this is not a certificate\n');
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** HTTPS to 127.0.0.1, trusting only our certificate and checking it names `localhost`. */
function https(port: number, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: cert,
        servername: 'localhost',
        headers: { ...(payload && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }) },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('TLS (TLS_CERT / TLS_KEY)', () => {
  it('serves HTTPS and WSS with the configured certificate, not plain HTTP, and stops on SIGTERM', async () => {
    const port = await freePort();
    const main = runMain({ ...BASE_ENV, PORT: String(port), TLS_CERT: join(dir, 'cert.pem'), TLS_KEY: join(dir, 'key.pem') });
    await waitFor(
      async () => {
        if (main.child.exitCode !== null) throw new Error(`the server exited: ${main.stderr()}`);
        return (await https(port, 'GET', '/healthz').catch(() => null))?.status === 200;
      },
      'the server to answer over HTTPS',
      30_000,
      100,
    );
    expect(await https(port, 'GET', '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });

    // A client that does not trust this certificate refuses it (it really is the one we made).
    await expect(
      new Promise((resolve, reject) => httpsRequest({ host: '127.0.0.1', port, path: '/healthz', servername: 'localhost' }, resolve).on('error', reject).end()),
    ).rejects.toThrow(/self[- ]signed/i);
    // Plain HTTP on the TLS port gets no answer.
    const plain = await new Promise<number | string>((resolve) =>
      httpRequest({ host: '127.0.0.1', port, path: '/healthz' }, (res) => resolve(res.statusCode ?? 0))
        .on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message))
        .end(),
    );
    expect(plain).not.toBe(200);

    const login = await https(port, 'POST', '/v1/auth/login', ADMIN);
    expect(login).toMatchObject({ status: 200, body: { tokenType: 'Bearer', role: 'admin' } });

    // (`servername` goes through to tls.connect; the ws typings do not list it.)
    const wss: WebSocket.ClientOptions & { servername: string } = {
      ca: cert,
      servername: 'localhost',
      headers: { authorization: `Bearer ${login.body.token}` },
    };
    const ws = new WebSocket(`wss://127.0.0.1:${port}/v1/stream`, wss);
    const received: Record<string, unknown>[] = [];
    ws.on('message', (d) => received.push(JSON.parse(d.toString()) as Record<string, unknown>));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send('{"type":"ping"}');
    await waitFor(() => received.some((m) => m.type === 'pong'), 'a pong over WSS');
    ws.send('{"type":"subscribe","fleet":true}');
    await waitFor(() => received.some((m) => m.type === 'fleet.snapshot'), 'the fleet snapshot over WSS');

    main.child.kill('SIGTERM');
    expect(await closed).toBe(1001);
    expect(await main.exited).toEqual({ code: 0, signal: null, at: expect.any(Number) });
  }, 60_000);

  it.each([
    ['a certificate file that does not exist', { TLS_CERT: '/nonexistent/cert.pem', TLS_KEY: 'key.pem' }, /TLS_CERT/],
    ['a key without a certificate', { TLS_KEY: 'key.pem' }, /TLS_CERT/],
    ['a certificate without a key', { TLS_CERT: 'cert.pem' }, /TLS_KEY/],
    ['a certificate that is not PEM', { TLS_CERT: 'garbage.pem', TLS_KEY: 'key.pem' }, /TLS_CERT/],
    ['a key that is not PEM', { TLS_CERT: 'cert.pem', TLS_KEY: 'garbage.pem' }, /TLS_KEY/],
    ["a key that is not the certificate's", { TLS_CERT: 'cert.pem', TLS_KEY: 'other-key.pem' }, /TLS_CERT\/TLS_KEY/],
  ])('stops start-up with exit 1 and one line naming the setting for %s', async (_label, files, names) => {
    const env = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.startsWith('/') ? v : join(dir, v)]));
    const main = runMain({ ...BASE_ENV, PORT: String(await freePort()), ...env });
    expect(await main.exited).toEqual({ code: 1, signal: null, at: expect.any(Number) });
    const lines = main.stderr().trim().split('\n');
    expect(lines, main.stderr()).toHaveLength(1);
    expect(lines[0]).toMatch(/^ridecast: configuration error: /);
    expect(lines[0]).toMatch(names);
    expect(main.stdout()).toBe('');
  }, 60_000);
});
