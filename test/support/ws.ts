import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Where a listening app's stream is: `ws://127.0.0.1:<port>/v1/stream`. */
export function streamUrl(app: FastifyInstance): string {
  const { port } = app.server.address() as AddressInfo;
  return `ws://127.0.0.1:${port}/v1/stream`;
}

export interface LiveClient {
  readonly ws: WebSocket;
  /** Every message received so far, in order. */
  readonly messages: Json[];
  /** Resolves once the socket has closed, with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  sendRaw(data: string | Buffer): void;
  /**
   * The next message of `type` (and matching `where`) after the last one `next` returned: a cursor
   * over the messages, so a test reads them in order. Waits up to `timeoutMs`.
   */
  next(type: string, where?: (m: Json) => boolean, timeoutMs?: number): Promise<Json>;
  /** The first message (from the start) of `type` and matching `where`, without moving the cursor. */
  find(type: string, where?: (m: Json) => boolean, timeoutMs?: number): Promise<Json>;
  /** All messages of `type` (and matching `where`) so far. */
  all(type?: string, where?: (m: Json) => boolean): Json[];
  /** Sends and returns the next reply of `type` (e.g. `ping` → `pong`). */
  request(message: unknown, type: string, where?: (m: Json) => boolean, timeoutMs?: number): Promise<Json>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** How the token travels: the Authorization header (apps) or `?access_token=` (browsers). */
  readonly via?: 'header' | 'query';
}

/** Opens a stream socket; rejects with the HTTP status if the upgrade is refused. */
export function connect(app: FastifyInstance, token: string | undefined, { via = 'header' }: ConnectOptions = {}): Promise<LiveClient> {
  const url = streamUrl(app) + (token && via === 'query' ? `?access_token=${encodeURIComponent(token)}` : '');
  const ws = new WebSocket(url, { headers: token && via === 'header' ? { authorization: `Bearer ${token}` } : {} });
  const messages: Json[] = [];
  const waiters = new Set<() => void>();
  let cursor = 0;
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of waiters) w();
    }),
  );
  ws.on('message', (data) => {
    messages.push(JSON.parse(data.toString()) as Json);
    for (const w of waiters) w();
  });

  const matches = (m: Json, type: string, where?: (m: Json) => boolean) => m.type === type && (!where || where(m));

  /** Waits until `probe` finds something (re-run on every message), or fails after `timeoutMs`. */
  function until<T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const found = probe();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (ws.readyState === WebSocket.CLOSED) {
          done();
          reject(new Error(`socket closed while waiting for ${what}; got ${JSON.stringify(messages.slice(-5))}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last messages ${JSON.stringify(messages.slice(-5))}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
    });
  }

  const client: LiveClient = {
    ws,
    messages,
    closed,
    send: (message) => ws.send(JSON.stringify(message)),
    sendRaw: (data) => ws.send(data),
    next(type, where, timeoutMs = 10_000) {
      return until(
        () => {
          for (let i = cursor; i < messages.length; i++)
            if (matches(messages[i]!, type, where)) {
              cursor = i + 1;
              return messages[i]!;
            }
          return undefined;
        },
        `a ${type} message`,
        timeoutMs,
      );
    },
    find(type, where, timeoutMs = 10_000) {
      return until(() => messages.find((m) => matches(m, type, where)), `a ${type} message`, timeoutMs);
    },
    all: (type, where) => messages.filter((m) => (type === undefined ? true : matches(m, type, where))),
    request(message, type, where, timeoutMs) {
      const from = messages.length;
      client.send(message);
      return until(
        () => messages.slice(from).find((m) => matches(m, type, where)),
        `a ${type} reply to ${JSON.stringify(message)}`,
        timeoutMs ?? 10_000,
      );
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000);
      await closed;
    },
  };

  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { statusCode: res.statusCode }));
      ws.terminate();
    });
    ws.once('error', reject);
  });
}
