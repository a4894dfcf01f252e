import WebSocket from 'ws';

export type StreamMessage = { type: string; [key: string]: unknown };

export interface StreamOptions {
  /** http(s) base URL of the server; the socket goes to `/v1/stream` on the same host. */
  baseUrl: string;
  token: () => string;
  /** Called when the upgrade is refused with 401, before the next attempt. */
  refreshToken?: () => Promise<void>;
  onMessage: (message: StreamMessage) => void;
  /** Each (re)connection: the place to subscribe again. */
  onOpen?: () => void;
  onDisconnect?: (reason: string) => void;
  pingEveryMs?: number;
}

export interface Stream {
  readonly connected: boolean;
  /** False when the socket is down; the caller decides whether that matters. */
  send(message: StreamMessage): boolean;
  close(): void;
}

export const streamUrl = (baseUrl: string, token: string) => {
  const url = new URL('/v1/stream', baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('access_token', token);
  return url.toString();
};

/**
 * One WebSocket on `/v1/stream` that keeps itself up: it pings the server, treats a silent
 * socket as dead, and reconnects with capped exponential backoff and jitter so a restarted
 * server is not hit by every driver in the same millisecond.
 */
export function openStream(opts: StreamOptions): Stream {
  const pingEveryMs = opts.pingEveryMs ?? 20_000;
  let socket: WebSocket | null = null;
  let closed = false;
  let attempt = 0;
  let retryTimer: NodeJS.Timeout | null = null;
  let pingTimer: NodeJS.Timeout | null = null;
  let lastHeard = 0;

  const clearTimers = () => {
    if (pingTimer) clearInterval(pingTimer);
    pingTimer = null;
  };

  const scheduleReconnect = (reason: string, unauthorized: boolean) => {
    clearTimers();
    socket = null;
    if (closed) return;
    opts.onDisconnect?.(reason);
    const delay = Math.min(15_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt = Math.min(attempt + 1, 8);
    retryTimer = setTimeout(() => {
      retryTimer = null;
      const renew = unauthorized && opts.refreshToken ? opts.refreshToken() : Promise.resolve();
      renew.catch(() => {}).finally(connect);
    }, delay);
    retryTimer.unref?.();
  };

  const connect = () => {
    if (closed) return;
    let unauthorized = false;
    const ws = new WebSocket(streamUrl(opts.baseUrl, opts.token()));
    socket = ws;
    ws.on('unexpected-response', (_req, res) => {
      unauthorized = res.statusCode === 401;
      ws.terminate();
    });
    ws.on('open', () => {
      attempt = 0;
      lastHeard = Date.now();
      pingTimer = setInterval(() => {
        // Two missed pings: the connection is gone even if TCP has not noticed.
        if (Date.now() - lastHeard > pingEveryMs * 2.5) ws.terminate();
        else if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ping"}');
      }, pingEveryMs);
      pingTimer.unref?.();
      opts.onOpen?.();
    });
    ws.on('message', (data) => {
      lastHeard = Date.now();
      let message: unknown;
      try {
        message = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (message && typeof message === 'object' && typeof (message as StreamMessage).type === 'string') {
        opts.onMessage(message as StreamMessage);
      }
    });
    ws.on('error', () => {});
    ws.on('close', (code) => scheduleReconnect(unauthorized ? 'unauthorized' : `closed ${code}`, unauthorized));
  };

  connect();
  return {
    get connected() {
      return socket?.readyState === WebSocket.OPEN;
    },
    send(message) {
      if (!socket || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(message));
      return true;
    },
    close() {
      closed = true;
      clearTimers();
      if (retryTimer) clearTimeout(retryTimer);
      socket?.close(1000, 'fleet stopping');
      socket = null;
    },
  };
}
