// A `/v1/stream` socket to a real server process, keeping every message (ws.ts is the richer
// client for in-process apps).
import WebSocket from 'ws';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/** A `/v1/stream` socket that keeps every message it is sent, in arrival order. */
export interface LiveSocket {
  readonly messages: Json[];
  /** Resolves when the socket closes (or fails), with the close code (1006 for a reset). */
  readonly closed: Promise<number>;
  isOpen(): boolean;
  send(message: Json): void;
  /** Resolves with the first message (already received or to come) that `match` accepts. */
  waitFor(match: (m: Json) => boolean, what: string, timeoutMs?: number): Promise<Json>;
  close(): void;
  /** Called for each message as it arrives (after it is stored). */
  onMessage(listener: (m: Json) => void): void;
}

export async function openSocket(base: string, token: string, timeoutMs = 10_000): Promise<LiveSocket> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
  const messages: Json[] = [];
  const listeners: ((m: Json) => void)[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (raw) => {
    let m: Json;
    try {
      m = JSON.parse(raw.toString()) as Json;
    } catch {
      m = { type: 'unparsable', raw: raw.toString() };
    }
    messages.push(m);
    for (const l of listeners) l(m);
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<number>((resolve) => {
    ws.once('close', (code) => {
      for (const w of [...waiters]) w();
      resolve(code);
    });
  });
  ws.on('error', () => undefined); // 'close' follows
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket to ${base} did not open within ${timeoutMs} ms`)), timeoutMs);
    ws.once('open', () => (clearTimeout(timer), resolve()));
    ws.once('unexpected-response', (_req, res) => (clearTimeout(timer), reject(new Error(`socket to ${base}: HTTP ${res.statusCode}`))));
    ws.once('error', (err) => (clearTimeout(timer), reject(err)));
  });
  return {
    messages,
    closed,
    isOpen: () => ws.readyState === WebSocket.OPEN,
    send: (m) => ws.send(JSON.stringify(m)),
    onMessage: (l) => void listeners.push(l),
    close: () => ws.close(),
    waitFor(match, what, waitMs = 15_000) {
      return new Promise<Json>((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < messages.length; seen++) {
            const m = messages[seen]!;
            if (match(m)) return done(() => resolve(m));
          }
          if (ws.readyState === WebSocket.CLOSED) done(() => reject(new Error(`socket closed while waiting for ${what}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${waitMs} ms waiting for ${what}; got ${JSON.stringify(messages.slice(-5))}`))), waitMs);
        const done = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
  };
}
