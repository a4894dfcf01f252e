// JSON over fetch, with the server's error `code` carried into a typed error. No Node imports:
// this file runs as is in browsers and in Node 20 (global fetch).

/** A failed call: `status` 0 means the server was not reached (network error or timeout). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** From Retry-After (429, 503), when the server sent one. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Seen after every call, so a caller can count requests and errors without wrapping each one. */
export type OutcomeListener = (outcome: { ok: boolean; code?: string; status: number; method: string; path: string }) => void;

export interface RequestOptions {
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  /** The response is text (`/metrics`), not JSON. */
  text?: boolean;
}

export interface HttpOptions {
  /** The server's http(s) origin; '' (or omitted) in a browser means the page's own. */
  baseUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  onOutcome?: OutcomeListener;
}

export interface Http {
  readonly baseUrl: string;
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
}

export function createHttp(opts: HttpOptions = {}): Http {
  const root = (opts.baseUrl ?? '').replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const report = opts.onOutcome ?? (() => {});
  const doFetch = opts.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
  return {
    baseUrl: root,
    async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
      const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      // Fastify refuses an empty body sent as JSON, so POSTs without a payload send `{}`.
      const body = options.body ?? (method === 'POST' ? {} : undefined);
      if (body !== undefined) headers['content-type'] = 'application/json';
      let response: Response;
      try {
        response = await doFetch(root + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
        const code = timedOut ? 'TIMEOUT' : 'NETWORK';
        report({ ok: false, code, status: 0, method, path });
        // Node's fetch hides the useful part (ECONNREFUSED, ENOTFOUND…) in `cause`.
        const cause = err instanceof Error && err.cause instanceof Error ? ` (${(err.cause as Error & { code?: string }).code ?? err.cause.message})` : '';
        throw new ApiError(0, code, `${method} ${root}${path}: ${err instanceof Error ? err.message : String(err)}${cause}`);
      }
      const text = await response.text().catch(() => '');
      if (response.ok && options.text) {
        report({ ok: true, status: response.status, method, path });
        return text as T;
      }
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (!response.ok) {
        const payload = (parsed ?? {}) as { code?: unknown; message?: unknown };
        const code = typeof payload.code === 'string' ? payload.code : `HTTP_${response.status}`;
        report({ ok: false, code, status: response.status, method, path });
        const message = typeof payload.message === 'string' ? payload.message : text.slice(0, 200);
        const retryAfter = Number(response.headers.get('retry-after'));
        const retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null;
        throw new ApiError(response.status, code, `${method} ${path} → ${response.status} ${code}: ${message}`, retryAfterMs);
      }
      report({ ok: true, status: response.status, method, path });
      return parsed as T;
    },
  };
}
