import type { LatLng } from '../../domain/geo.ts';

/** A failed call: `status` 0 means the server was not reached (network error or timeout). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** From a 429's Retry-After header, when the server sent one. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Role = 'admin' | 'rider' | 'driver' | 'service';
export type RideStatus = 'requested' | 'offered' | 'accepted' | 'arrived' | 'in_progress' | 'completed' | 'cancelled' | 'unmatched';
export const FINISHED: ReadonlySet<string> = new Set<RideStatus>(['completed', 'cancelled', 'unmatched']);

export interface LoginResult {
  token: string;
  tokenType: 'Bearer';
  expiresIn: number;
  userId: string;
  role: Role;
}

export interface RideView {
  rideId: string;
  status: RideStatus;
  driverId: string | null;
  pickup: LatLng;
  dropoff: LatLng;
}

export interface LocationPoint {
  lat: number;
  lng: number;
  recordedAt: string;
  heading?: number;
  speed?: number;
  accuracy?: number;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Seen after every call, so the fleet can count requests and errors without wrapping each one. */
export type OutcomeListener = (outcome: { ok: boolean; code?: string; status: number }) => void;

export interface ApiClient {
  readonly baseUrl: string;
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
}

/** A thin JSON client over global fetch: every non-2xx becomes an ApiError carrying the server's `code`. */
export function createApiClient(baseUrl: string, opts: { timeoutMs?: number; onOutcome?: OutcomeListener } = {}): ApiClient {
  const root = baseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const report = opts.onOutcome ?? (() => {});
  return {
    baseUrl: root,
    async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
      const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      // Fastify rejects an empty body sent as JSON, so POSTs without a payload send `{}`.
      const body = options.body ?? (method === 'POST' ? {} : undefined);
      if (body !== undefined) headers['content-type'] = 'application/json';
      let response: Response;
      try {
        response = await fetch(root + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
        const code = timedOut ? 'TIMEOUT' : 'NETWORK';
        report({ ok: false, code, status: 0 });
        // undici hides the useful part (ECONNREFUSED, ENOTFOUND…) in `cause`.
        const cause = err instanceof Error && err.cause instanceof Error ? ` (${(err.cause as NodeJS.ErrnoException).code ?? err.cause.message})` : '';
        throw new ApiError(0, code, `${method} ${root}${path}: ${err instanceof Error ? err.message : String(err)}${cause}`);
      }
      const text = await response.text().catch(() => '');
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (!response.ok) {
        const payload = (parsed ?? {}) as { code?: unknown; message?: unknown };
        const code = typeof payload.code === 'string' ? payload.code : `HTTP_${response.status}`;
        report({ ok: false, code, status: response.status });
        const message = typeof payload.message === 'string' ? payload.message : text.slice(0, 200);
        const retryAfter = Number(response.headers.get('retry-after'));
        const retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null;
        throw new ApiError(response.status, code, `${method} ${path} → ${response.status} ${code}: ${message}`, retryAfterMs);
      }
      report({ ok: true, status: response.status });
      return parsed as T;
    },
  };
}

/** A logged-in user. Calls log in again once when the token is refused (it may have expired). */
export interface UserSession {
  readonly username: string;
  readonly userId: string;
  readonly token: string;
  /** Logs in again now (a WebSocket upgrade refused with 401 has no other way to renew). */
  refresh(): Promise<void>;
  call<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
}

export async function login(api: ApiClient, username: string, password: string): Promise<LoginResult> {
  return api.request<LoginResult>('POST', '/v1/auth/login', { body: { username, password } });
}

export async function openSession(api: ApiClient, username: string, password: string): Promise<UserSession> {
  let current = await login(api, username, password);
  let relogin: Promise<LoginResult> | null = null;
  const renew = async () => {
    relogin ??= login(api, username, password).finally(() => (relogin = null));
    current = await relogin;
  };
  return {
    username,
    get userId() {
      return current.userId;
    },
    get token() {
      return current.token;
    },
    refresh: renew,
    async call<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
      const used = current.token;
      try {
        return await api.request<T>(method, path, { token: used, body, headers });
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 401) throw err;
        // Several calls can fail together; they share one new login.
        if (current.token === used) await renew();
        return api.request<T>(method, path, { token: current.token, body, headers });
      }
    },
  };
}

/** Creates a user with the admin token; 409 (taken) is left to the caller. */
export async function createUser(api: ApiClient, adminToken: string, username: string, password: string, role: Role) {
  return api.request<{ userId: string; username: string; role: Role }>('POST', '/v1/users', {
    token: adminToken,
    body: { username, password, role },
  });
}
