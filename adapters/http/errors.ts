import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError } from '../../domain/errors.ts';

/** Fastify's own error codes, renamed to the contract's stable ones. */
const RENAMED: Record<string, { code: string; status?: number }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'INVALID_JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'INVALID_JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'BODY_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'INVALID_CONTENT_LENGTH' },
  FST_ERR_RATE_LIMIT_EXCEEDED: { code: 'RATE_LIMITED', status: 429 },
};

export const errorBody = (statusCode: number, code: string, message: string) => ({
  statusCode,
  code,
  error: STATUS_CODES[statusCode] ?? 'Error',
  message,
});

/**
 * Every failure leaves in Fastify's shape with a stable `code`. Bad input is 400 naming the field;
 * a 5xx hides its cause from the client and logs it.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof DomainError) return reply.status(err.statusCode).send(errorBody(err.statusCode, err.code, err.message));
    if (err.validation) {
      const where = err.validationContext ?? 'body';
      const first = err.validation[0];
      const field = first ? `${where}${first.instancePath || ''}`.replace(/\//g, '.') : where;
      const missing = first?.keyword === 'required' ? `.${(first.params as { missingProperty: string }).missingProperty}` : '';
      return reply.status(400).send(errorBody(400, 'VALIDATION_ERROR', `${field}${missing} ${first?.message ?? 'is invalid'}`));
    }
    if (err.code?.startsWith('FST_JWT') || err.statusCode === 401)
      return reply.status(401).send(errorBody(401, 'UNAUTHORIZED', 'a valid bearer token is required'));
    const renamed = err.code ? RENAMED[err.code] : undefined;
    const status = renamed?.status ?? err.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err }, 'request failed');
      return reply.status(status).send(errorBody(status, 'INTERNAL', 'something went wrong on our side'));
    }
    return reply.status(status).send(errorBody(status, renamed?.code ?? err.code ?? 'BAD_REQUEST', err.message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody(404, 'ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}
