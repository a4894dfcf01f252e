// `GET /v1/stream` that keeps itself up: reconnects with capped, jittered backoff, subscribes
// again to what it followed, resuming each ride after the last event seen (`after`), drops
// repeats, renews the token when an upgrade keeps failing or it is about to expire, and says
// when the server could not replay (`REPLAY_GAP`). Standard WebSocket API only, so it runs in
// browsers and, with `ws` passed in, in Node 20.
import { background, type Session } from './session.ts';
import type { ClientMessage, StreamError, StreamMessage } from './types.ts';

/** The part of the WebSocket API the stream uses (browsers' and `ws`'s both have it). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: { data?: unknown; code?: number }) => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'unauthorized';

export interface ReplayGap {
  readonly rideId: string;
  /** The event the stream asked to resume after. */
  readonly after: string | undefined;
  readonly message: string;
}

export interface LiveStreamOptions {
  readonly client: { readonly baseUrl: string; readonly session: Session | null; refresh(): Promise<Session> };
  readonly WebSocket: WebSocketConstructor;
  onMessage?(message: StreamMessage): void;
  onState?(state: StreamState): void;
  /** The server could not replay what was missed (trimmed or unknown event): it sent the ride's current state instead. */
  onGap?(gap: ReplayGap): void;
  /** Any other `{type: "error"}` from the server (a refused subscription, a bad location…). */
  onError?(error: StreamError): void;
  /** Backoff between attempts: `initialMs` doubling up to `maxMs`, each with jitter (defaults 500 ms, 15 s). */
  readonly backoff?: { initialMs?: number; maxMs?: number };
  /** A ping this often; a socket silent for 2.5 of these is taken as dead (default 20 s). */
  readonly pingEveryMs?: number;
}

export interface LiveStream {
  readonly state: StreamState;
  readonly connected: boolean;
  /** Follows a ride, now and after every reconnection; `after` resumes from an event seen earlier. */
  follow(rideId: string, after?: string): void;
  unfollow(rideId: string): void;
  /** Operators: the whole fleet. */
  followFleet(): void;
  /** The last event seen of a followed ride: where a reconnection resumes. */
  lastEventId(rideId: string): string | undefined;
  /** Sends now; false when the socket is down (a location is better dropped than sent late). */
  send(message: ClientMessage): boolean;
  close(): void;
}

const RECENT_IDS = 5_000;
const OPEN = 1;

export function streamUrl(baseUrl: string, token: string): string {
  const origin = baseUrl || (globalThis as { location?: { origin: string } }).location?.origin;
  if (!origin) throw new Error('baseUrl is required outside a browser');
  const url = new URL('/v1/stream', origin);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('access_token', token);
  return url.toString();
}

export function createLiveStream(opts: LiveStreamOptions): LiveStream {
  const initialMs = opts.backoff?.initialMs ?? 500;
  const maxMs = opts.backoff?.maxMs ?? 15_000;
  const pingEveryMs = opts.pingEveryMs ?? 20_000;
  const rides = new Map<string, string | undefined>(); // rideId → last eventId seen
  const seen = new Set<string>();
  let fleet = false;
  let socket: WebSocketLike | null = null;
  let state: StreamState = 'offline';
  let closed = false;
  let attempt = 0;
  let failuresBeforeOpen = 0;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let pingTimer: ReturnType<typeof setInterval> | null = null;
  let lastHeard = 0;

  const setState = (next: StreamState) => {
    if (state === next) return;
    state = next;
    opts.onState?.(next);
  };
  const send = (message: ClientMessage) => {
    if (!socket || socket.readyState !== OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  };
  const subscribe = (rideId: string) => {
    const after = rides.get(rideId);
    send(after ? { type: 'subscribe', rideId, after } : { type: 'subscribe', rideId });
  };

  /** False for a message already delivered (a replay overlapping what arrived live). */
  const fresh = (m: { type: string; eventId?: unknown; rideId?: unknown }) => {
    if (typeof m.eventId !== 'string' && typeof m.eventId !== 'number') return true;
    const key = `${m.type}|${m.eventId}`;
    if (seen.has(key)) return false;
    seen.add(key);
    // Sets iterate in insertion order: dropping the first entries forgets the oldest.
    if (seen.size > RECENT_IDS) for (const old of seen) if (seen.delete(old) && seen.size <= RECENT_IDS * 0.9) break;
    if (typeof m.rideId === 'string' && rides.has(m.rideId)) rides.set(m.rideId, String(m.eventId));
    return true;
  };

  const onData = (data: unknown) => {
    lastHeard = Date.now();
    let message: unknown;
    try {
      message = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return;
    }
    if (!message || typeof message !== 'object' || typeof (message as { type?: unknown }).type !== 'string') return;
    const m = message as StreamMessage;
    if (m.type === 'error') {
      if (m.code === 'REPLAY_GAP' && m.rideId) {
        // The server follows with the current state; what we saw before no longer proves anything.
        const after = rides.get(m.rideId);
        if (rides.has(m.rideId)) rides.set(m.rideId, undefined);
        return opts.onGap?.({ rideId: m.rideId, after, message: m.message });
      }
      return opts.onError?.(m);
    }
    if (fresh(m)) opts.onMessage?.(m);
  };

  const schedule = () => {
    const delay = Math.min(maxMs, initialMs * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt = Math.min(attempt + 1, 16);
    setState('reconnecting');
    retryTimer = background(() => {
      retryTimer = null;
      void connect();
    }, delay);
  };

  async function connect(): Promise<void> {
    if (closed) return;
    let session = opts.client.session;
    // A token about to lapse, or upgrades refused again and again (a browser cannot see the 401): renew first.
    const stale = !session || session.expiresAt - Date.now() < 5_000 || failuresBeforeOpen >= 2;
    if (stale && session && !session.shareRideId) {
      session = await opts.client.refresh().catch(() => opts.client.session);
      if (closed) return;
      failuresBeforeOpen = 0;
    }
    if (!session || session.expiresAt <= Date.now()) return setState('unauthorized');
    setState(attempt === 0 ? 'connecting' : 'reconnecting');
    let opened = false;
    const ws = new opts.WebSocket(streamUrl(opts.client.baseUrl, session.token));
    socket = ws;
    ws.addEventListener('open', () => {
      if (socket !== ws) return;
      opened = true;
      attempt = 0;
      failuresBeforeOpen = 0;
      lastHeard = Date.now();
      setState('live');
      if (fleet) send({ type: 'subscribe', fleet: true });
      for (const rideId of rides.keys()) subscribe(rideId);
      pingTimer = setInterval(() => {
        // Silent for two and a half pings: the connection is gone even if TCP has not noticed.
        if (Date.now() - lastHeard > pingEveryMs * 2.5) {
          const w = ws as WebSocketLike & { terminate?: () => void };
          if (w.terminate) w.terminate();
          else w.close();
        } else send({ type: 'ping' });
      }, pingEveryMs);
      (pingTimer as { unref?: () => void }).unref?.();
    });
    ws.addEventListener('message', (event) => socket === ws && onData(event.data));
    ws.addEventListener('error', () => {});
    ws.addEventListener('close', () => {
      if (socket !== ws) return;
      if (pingTimer) clearInterval(pingTimer);
      pingTimer = null;
      socket = null;
      if (closed) return setState('offline');
      if (!opened) failuresBeforeOpen++;
      schedule();
    });
  }

  void connect();
  return {
    get state() {
      return state;
    },
    get connected() {
      return socket?.readyState === OPEN;
    },
    follow(rideId, after) {
      if (!rides.has(rideId) || after !== undefined) rides.set(rideId, after ?? rides.get(rideId));
      subscribe(rideId);
    },
    unfollow(rideId) {
      if (rides.delete(rideId)) send({ type: 'unsubscribe', rideId });
    },
    followFleet() {
      fleet = true;
      send({ type: 'subscribe', fleet: true });
    },
    lastEventId: (rideId) => rides.get(rideId),
    send,
    close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (pingTimer) clearInterval(pingTimer);
      const s = socket;
      socket = null;
      s?.close(1000, 'bye');
      setState('offline');
    },
  };
}
