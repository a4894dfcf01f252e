import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../domain/errors.ts';

/** Fastify's own error codes, renamed to the contract's stable ones. */
const RENAMED: Record<string, { code: string; status?: number }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'INVALID_JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'INVALID_JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'BODY_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'INVALID_CONTENT_LENGTH' },
  FST_ERR_RATE_LIMIT_EXCEEDED: { code: 'RATE_LIMITED', status: 429 },
  FST_ERR_BAD_URL: { code: 'BAD_URL', status: 400 },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'URL_TOO_LONG', status: 414 },
};

/** A 4xx that carries no code of its own (or only an internal Fastify one) gets one from its status. */
const BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  411: 'LENGTH_REQUIRED',
  413: 'BODY_TOO_LARGE',
  414: 'URL_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
};

export const errorBody = (statusCode: number, code: string, message: string) => ({
  statusCode,
  code,
  error: STATUS_CODES[statusCode] ?? 'Error',
  message,
});

interface AjvLikeError {
  keyword: string;
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/**
 * The one validation error worth telling: with unions (`anyOf`) every branch reports its first
 * failure, so the deepest one (the branch that got furthest) is the one that names the real field;
 * among equals, a value of the right type that breaks a rule beats a wrong type, which beats a missing one.
 */
function pickError(errors: readonly AjvLikeError[]): AjvLikeError | undefined {
  const depth = (e: AjvLikeError) => (e.instancePath ? e.instancePath.split('/').length : 0);
  const rank = (e: AjvLikeError) => (e.keyword === 'required' ? 2 : e.keyword === 'type' ? 1 : 0);
  const candidates = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  if (candidates.length === 0) return errors[0];
  return [...candidates].sort((a, b) => depth(b) - depth(a) || rank(a) - rank(b))[0];
}

/** `body.pickup.lat must be <= 90`, `body.pickup must have required property 'pickup'`, `body.extra is not allowed`. */
export function validationMessage(where: string, errors: readonly AjvLikeError[]): string {
  const first = pickError(errors);
  if (!first) return `${where} is invalid`;
  const field = `${where}${first.instancePath ?? ''}`.replace(/\//g, '.');
  if (first.keyword === 'required') return `${field}.${String(first.params?.missingProperty)} ${first.message ?? 'is required'}`;
  if (first.keyword === 'additionalProperties') return `${field}.${String(first.params?.additionalProperty)} is not allowed`;
  return `${field} ${first.message ?? 'is invalid'}`;
}

/** Failures Fastify meets before routing (a URL it cannot decode, a too-long parameter) leave in the same shape. */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const renamed = RENAMED[err.code];
  const status = renamed?.status ?? err.statusCode ?? 400;
  if (status >= 500) {
    _request.log.error({ err }, 'request failed before routing');
    return void reply.status(500).send(errorBody(500, 'INTERNAL', 'something went wrong on our side'));
  }
  void reply.status(status).send(errorBody(status, renamed?.code ?? BY_STATUS[status] ?? 'BAD_REQUEST', err.message));
}

/**
 * Every failure leaves in Fastify's shape with a stable `code`. Bad input is 400 naming the field;
 * a 5xx hides its cause from the client and logs it.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof DomainError) {
      if (err.details.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.details.retryAfterSeconds));
      if (err.statusCode >= 500) request.log.error({ err }, 'request failed');
      return reply.status(err.statusCode).send(errorBody(err.statusCode, err.code, err.message));
    }
    if (err.validation) {
      const message = validationMessage(err.validationContext ?? 'body', err.validation as AjvLikeError[]);
      return reply.status(400).send(errorBody(400, 'VALIDATION_ERROR', message));
    }
    if (err.code?.startsWith('FST_JWT') || err.code?.startsWith('FAST_JWT') || err.statusCode === 401)
      return reply.status(401).send(errorBody(401, 'UNAUTHORIZED', 'a valid bearer token is required'));
    if (isBackendDown(err)) {
      request.log.warn({ err: err.message }, 'a backend is unreachable or refusing writes');
      return reply.status(503).header('retry-after', '1').send(errorBody(503, 'UNAVAILABLE', 'a backing service is unreachable; try again shortly'));
    }
    const renamed = err.code ? RENAMED[err.code] : undefined;
    const status = renamed?.status ?? err.statusCode ?? 500;
    if (status >= 500 || status < 400) {
      request.log.error({ err }, 'request failed');
      const shown = status >= 500 && status <= 599 ? status : 500;
      return reply.status(shown).send(errorBody(shown, 'INTERNAL', 'something went wrong on our side'));
    }
    // Fastify's internal codes (FST_…) are not the contract's: name the failure by its status instead.
    const own = err.code && !err.code.startsWith('FST_') ? err.code : undefined;
    const code = renamed?.code ?? own ?? BY_STATUS[status] ?? 'BAD_REQUEST';
    return reply.status(status).send(errorBody(status, code, err.message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody(404, 'ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}

/**
 * The transport or a store is down (Redis restarting, broker unreachable): the request may well
 * succeed in a moment, so 503 with Retry-After rather than a 500 that reads as our bug.
 */
function isBackendDown(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    err.name.startsWith('KafkaJSConnection') ||
    err.name === 'KafkaJSNumberOfRetriesExceeded' ||
    err.name === 'KafkaJSRequestTimeoutError' ||
    err.name === 'MongoServerSelectionError' ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    /^(Connection is closed|Stream isn't writeable|Command timed out)/.test(err.message) ||
    (err.name === 'ReplyError' && REFUSED_WRITE.test(err.message))
  );
}

/**
 * Redis replies that mean "not now" rather than "wrong request": out of memory under noeviction,
 * a read-only replica after a failover, a failed disk save, still loading, a busy script, a cluster
 * that is resharding or down, an ACL that refuses the command.
 */
const REFUSED_WRITE = /^(OOM|READONLY|MISCONF|LOADING|BUSY|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|NOREPLICAS|NOPERM)\b/;
