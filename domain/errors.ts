/**
 * The one error the core throws for a broken rule. `code` is stable and machine-readable;
 * `statusCode` is the HTTP status the edge maps it to, so the domain never imports HTTP.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    /** For a 429 or 503: when trying again makes sense (the HTTP edge sends it as Retry-After). */
    readonly details: { readonly retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalidTransition = (message: string) => new DomainError('INVALID_TRANSITION', 409, message);
export const notFound = (what: string) => new DomainError('NOT_FOUND', 404, `${what} not found`);
export const forbidden = (message: string) => new DomainError('FORBIDDEN', 403, message);
export const versionConflict = (stream: string, key: string, expected: number, actual: number) =>
  new DomainError('VERSION_CONFLICT', 409, `${stream}/${key} is at version ${actual}, expected ${expected}`);
