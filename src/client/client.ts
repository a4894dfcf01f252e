// The typed Ridecast client: login and refresh, one method per route, and the live stream.
// Browser-safe: no Node imports; Node 20 passes a WebSocket implementation (such as `ws`).
import { ApiError, createHttp, type Http, type HttpOptions } from './http.ts';
import { background, renewLeadMs, sessionFrom, sessionOfToken, type Session } from './session.ts';
import { createLiveStream, type LiveStream, type LiveStreamOptions, type WebSocketConstructor } from './stream.ts';
import type * as T from './types.ts';

/** Every HTTP route the client covers (a test checks it against the server's routes). */
export const ROUTES = [
  'POST /v1/auth/login', 'POST /v1/auth/refresh', 'POST /v1/users',
  'POST /v1/rides', 'GET /v1/rides/:rideId', 'POST /v1/rides/:rideId/cancel', 'POST /v1/rides/:rideId/rating',
  'POST /v1/rides/:rideId/accept', 'POST /v1/rides/:rideId/decline', 'POST /v1/rides/:rideId/arrive',
  'POST /v1/rides/:rideId/start', 'POST /v1/rides/:rideId/complete', 'GET /v1/rides/:rideId/location',
  'GET /v1/rides/:rideId/track', 'POST /v1/rides/:rideId/share',
  'PUT /v1/drivers/me/availability', 'POST /v1/drivers/me/locations', 'GET /v1/drivers/nearby',
  'GET /v1/stream', 'GET /v1/map/streets', 'GET /v1/map/config',
  'GET /healthz', 'GET /readyz', 'GET /metrics',
] as const;

export interface ClientOptions extends HttpOptions {
  /** A transport shared by many clients (a simulated fleet counts all their calls in one place). */
  http?: Http;
  /** The WebSocket class: the global one in browsers, `ws`'s in Node 20. */
  WebSocket?: WebSocketConstructor;
  /** Renew the token before it expires (default true). */
  autoRefresh?: boolean;
}

export type SessionChange = 'login' | 'refresh' | 'logout' | 'expired';

const ride = (rideId: string) => `/v1/rides/${encodeURIComponent(rideId)}`;

export function createRidecastClient(options: ClientOptions = {}) {
  const http: Http = options.http ?? createHttp(options);
  let session: Session | null = null;
  let credentials: { username: string; password: string } | null = null;
  let renewing: Promise<Session> | null = null;
  let renewTimer: ReturnType<typeof setTimeout> | null = null;
  const listeners = new Set<(session: Session | null, why: SessionChange) => void>();

  const setSession = <S extends Session | null>(next: S, why: SessionChange): S => {
    session = next;
    if (renewTimer) clearTimeout(renewTimer);
    renewTimer = null;
    if (next && options.autoRefresh !== false && !next.shareRideId) {
      renewTimer = background(() => void renew().catch(() => {}), Math.max(0, next.expiresAt - Date.now() - renewLeadMs(next)));
    }
    for (const listener of listeners) listener(next, why);
    return next;
  };

  const loginWith = async (username: string, password: string) => {
    const reply = await http.request<T.TokenReply>('POST', '/v1/auth/login', { body: { username, password } });
    return sessionFrom(reply, username);
  };

  /**
   * A fresh token: `POST /v1/auth/refresh`, or a new login when the server refuses the old token and
   * the password was kept. Concurrent callers share one renewal. A network failure is retried later.
   */
  const renew = (): Promise<Session> => {
    if (renewing) return renewing;
    const pending = (async () => {
      const current = session;
      if (!current) throw new ApiError(401, 'UNAUTHORIZED', 'not logged in');
      try {
        const reply = await http.request<T.TokenReply>('POST', '/v1/auth/refresh', { token: current.token });
        return setSession(sessionFrom(reply, current.username), 'refresh');
      } catch (err) {
        if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 403)) {
          if (session === current && current.expiresAt > Date.now()) {
            if (renewTimer) clearTimeout(renewTimer);
            renewTimer = background(() => void renew().catch(() => {}), 2_000);
          }
          throw err;
        }
        if (credentials) return setSession(await loginWith(credentials.username, credentials.password), 'refresh');
        setSession(null, 'expired');
        throw err;
      }
    })().finally(() => (renewing = null));
    renewing = pending;
    return pending;
  };

  /** An authenticated call; a refused token is renewed once and the call tried again. */
  async function call<R>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<R> {
    const used = session?.token ?? null;
    try {
      return await http.request<R>(method, path, { token: used, body, headers });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401 || !used || (!credentials && !session)) throw err;
      if (session?.token === used) await renew();
      return http.request<R>(method, path, { token: session?.token ?? null, body, headers });
    }
  }

  const client = {
    http,
    get baseUrl() {
      return http.baseUrl;
    },
    get session(): Session | null {
      return session;
    },
    get token(): string | null {
      return session?.token ?? null;
    },
    /** Logs in. With `remember`, the password is kept in memory to log in again when a token cannot be refreshed. */
    async login(username: string, password: string, opts: { remember?: boolean } = {}): Promise<Session> {
      const next = await loginWith(username, password);
      credentials = opts.remember ? { username, password } : null;
      return setSession(next, 'login');
    },
    /** Uses a token obtained elsewhere (a page reload, a share link). */
    useToken(token: string, username?: string): Session {
      const next = sessionOfToken(token, username);
      if (!next) throw new ApiError(0, 'INVALID_TOKEN', 'the token cannot be read');
      credentials = null;
      return setSession(next, 'login');
    },
    /** Takes up a session kept from earlier (a page reload); the caller checks it has not expired. */
    restore(saved: Session): Session {
      credentials = null;
      return setSession(saved, 'login');
    },
    refresh: renew,
    logout(): void {
      credentials = null;
      setSession(null, 'logout');
    },
    /** Called on every login, refresh, logout and expiry; returns a function that stops it. */
    onSession(listener: (session: Session | null, why: SessionChange) => void): () => void {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    call,

    users: {
      create: (user: { username: string; password: string; role: T.Role }) => call<T.UserReply>('POST', '/v1/users', user),
    },
    rides: {
      request: (body: T.RequestRideBody, opts: { idempotencyKey?: string } = {}) =>
        call<T.RideRequested>('POST', '/v1/rides', body, opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined),
      get: (rideId: string) => call<T.RideView>('GET', ride(rideId)),
      cancel: (rideId: string, reason?: string) => call<T.RideView>('POST', `${ride(rideId)}/cancel`, reason === undefined ? {} : { reason }),
      rate: (rideId: string, rating: T.RatingBody) => call<T.RideView>('POST', `${ride(rideId)}/rating`, rating),
      accept: (rideId: string) => call<T.RideView>('POST', `${ride(rideId)}/accept`),
      decline: (rideId: string) => call<T.RideView>('POST', `${ride(rideId)}/decline`),
      arrive: (rideId: string) => call<T.RideView>('POST', `${ride(rideId)}/arrive`),
      start: (rideId: string) => call<T.RideView>('POST', `${ride(rideId)}/start`),
      complete: (rideId: string) => call<T.RideView>('POST', `${ride(rideId)}/complete`),
      location: (rideId: string) => call<T.LocationView>('GET', `${ride(rideId)}/location`),
      track: (rideId: string) => call<T.TrackReply>('GET', `${ride(rideId)}/track`),
      share: (rideId: string) => call<T.ShareReply>('POST', `${ride(rideId)}/share`),
    },
    drivers: {
      setAvailability: (available: boolean) => call<T.AvailabilityReply>('PUT', '/v1/drivers/me/availability', { available }),
      /** One point or up to 100; the server says how many it accepted and why it refused the rest. */
      reportLocations: (points: T.LocationPoint | readonly T.LocationPoint[]) =>
        call<T.LocationsReply>('POST', '/v1/drivers/me/locations', Array.isArray(points) ? { points } : points),
      nearby: (q: T.NearbyQuery) => {
        const query = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
        return call<T.NearbyReply>('GET', `/v1/drivers/nearby?${query}`);
      },
    },
    map: {
      streets: () => http.request<{ type: 'FeatureCollection'; features: unknown[] }>('GET', '/v1/map/streets'),
      config: () => http.request<{ tileUrl: string | null; tileAttribution: string | null }>('GET', '/v1/map/config'),
    },
    ops: {
      health: () => http.request<{ status: 'ok' }>('GET', '/healthz'),
      ready: () => http.request<T.ReadyReply>('GET', '/readyz'),
      metrics: () => http.request<string>('GET', '/metrics', { text: true }),
    },
    /** The live stream (`GET /v1/stream`) as this client's user; it follows token renewals. */
    stream(opts: Omit<LiveStreamOptions, 'client' | 'WebSocket'> & { WebSocket?: WebSocketConstructor } = {}): LiveStream {
      const WebSocketClass = opts.WebSocket ?? options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
      if (!WebSocketClass) throw new Error('no WebSocket implementation: pass one (e.g. `ws`) as options.WebSocket');
      return createLiveStream({ ...opts, WebSocket: WebSocketClass, client });
    },
  };
  return client;
}

export type RidecastClient = ReturnType<typeof createRidecastClient>;
