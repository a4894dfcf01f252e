// JSON over fetch against a real server (the in-process `client()` of service.ts uses inject).

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
export interface Reply {
  /** HTTP status; 0 when the request failed without an answer (refused, reset, timed out). */
  readonly status: number;
  readonly body: Json;
  readonly error?: string;
}

/** JSON over fetch against one server. Never throws for transport errors: status 0 says it. */
export function http(base: string | (() => string), defaultTimeoutMs = 10_000) {
  const baseOf = () => (typeof base === 'string' ? base : base());
  async function call(method: 'GET' | 'POST' | 'PUT', path: string, token?: string, payload?: unknown, headers: Record<string, string> = {}, timeoutMs = defaultTimeoutMs): Promise<Reply> {
    try {
      const res = await fetch(`${baseOf()}${path}`, {
        method,
        headers: {
          ...(token && { authorization: `Bearer ${token}` }),
          ...(payload !== undefined && { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(payload !== undefined && { body: JSON.stringify(payload) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let body: Json = {};
      try {
        body = text ? (JSON.parse(text) as Json) : {};
      } catch {
        body = { text };
      }
      return { status: res.status, body };
    } catch (err) {
      return { status: 0, body: {}, error: String((err as Error)?.cause ?? (err as Error)?.message ?? err) };
    }
  }
  const api = {
    url: baseOf,
    call,
    get: (path: string, token?: string) => call('GET', path, token),
    post: (path: string, token?: string, payload: unknown = {}, headers?: Record<string, string>) => call('POST', path, token, payload, headers),
    put: (path: string, token?: string, payload?: unknown) => call('PUT', path, token, payload),
    async login(username: string, password: string) {
      const res = await call('POST', '/v1/auth/login', undefined, { username, password });
      if (res.status !== 200) throw new Error(`login ${username} on ${baseOf()}: ${res.status} ${JSON.stringify(res.body)} ${res.error ?? ''}`);
      return res.body as { token: string; userId: string; role: string };
    },
    /** Creates a user with the admin token and logs them in (on this server). */
    async user(adminToken: string, role: 'rider' | 'driver' | 'admin' | 'service', username = `${role}-${Math.random().toString(36).slice(2, 10)}`) {
      const created = await call('POST', '/v1/users', adminToken, { username, password: 'password-123', role });
      if (created.status !== 201) throw new Error(`create ${username} on ${baseOf()}: ${created.status} ${JSON.stringify(created.body)} ${created.error ?? ''}`);
      return api.login(username, 'password-123');
    },
  };
  return api;
}
export type Http = ReturnType<typeof http>;
