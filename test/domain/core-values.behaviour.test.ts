import { describe, expect, it } from 'vitest';
import { isStaff, ROLES, systemActor } from '../../domain/actor.ts';
import { fold, type Decider } from '../../domain/decider.ts';
import { DomainError, forbidden, invalidTransition, notFound, versionConflict } from '../../domain/errors.ts';
import { systemClock } from '../../domain/ports/clock.ts';
import { quietLogger } from '../../domain/ports/logger.ts';

/** The small shared values of the core: who acts, the one error type, the wall clock, silence. */
describe('actors', () => {
  it('a token carries one of exactly four roles (what sign-up and login accept)', () => {
    expect([...ROLES].sort()).toStrictEqual(['admin', 'driver', 'rider', 'service']);
  });

  it('the system acts as a service: staff, named "system" in what it does', () => {
    expect(systemActor).toStrictEqual({ userId: 'system', role: 'service' });
    expect(isStaff(systemActor)).toBe(true);
  });

  it('admins and services are staff; riders and drivers are not', () => {
    expect(ROLES.filter((role) => isStaff({ userId: 'x', role }))).toStrictEqual(['admin', 'service']);
  });
});

describe('DomainError: the one error the core throws for a broken rule', () => {
  it('carries a stable code, the HTTP status the edge maps it to, and its message; it names itself', () => {
    const e = new DomainError('SOME_RULE', 422, 'a reason');
    expect(e).toBeInstanceOf(Error);
    expect({ name: e.name, code: e.code, statusCode: e.statusCode, message: e.message, details: e.details }).toStrictEqual({
      name: 'DomainError',
      code: 'SOME_RULE',
      statusCode: 422,
      message: 'a reason',
      details: {},
    });
    expect(String(e)).toBe('DomainError: a reason');
  });

  it('a 429 or 503 says when to try again', () => {
    expect(new DomainError('RATE_LIMITED', 429, 'slow down', { retryAfterSeconds: 7 }).details).toStrictEqual({ retryAfterSeconds: 7 });
  });

  it('the common refusals', () => {
    const fields = (e: DomainError) => ({ code: e.code, statusCode: e.statusCode, message: e.message });
    expect(fields(invalidTransition('ride r is done; cannot start'))).toStrictEqual({ code: 'INVALID_TRANSITION', statusCode: 409, message: 'ride r is done; cannot start' });
    expect(fields(notFound('ride r_1'))).toStrictEqual({ code: 'NOT_FOUND', statusCode: 404, message: 'ride r_1 not found' });
    expect(fields(forbidden('not yours'))).toStrictEqual({ code: 'FORBIDDEN', statusCode: 403, message: 'not yours' });
    expect(fields(versionConflict('rides', 'r_1', 3, 5))).toStrictEqual({
      code: 'VERSION_CONFLICT',
      statusCode: 409,
      message: 'rides/r_1 is at version 5, expected 3',
    });
  });
});

describe('fold', () => {
  it('replays events over the initial state, in order', () => {
    const digits: Decider<never, number, string> = { initialState: () => '>', evolve: (s, e) => s + e, decide: () => [] };
    expect(fold(digits, [1, 2, 3])).toBe('>123');
    expect(fold(digits, [])).toBe('>');
  });
});

describe('the production clock and the silent logger', () => {
  it('systemClock reads the wall clock in epoch milliseconds', () => {
    const before = Date.now();
    const now = systemClock.now();
    expect(Number.isInteger(now)).toBe(true);
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('quietLogger takes every level and says nothing', () => {
    expect(quietLogger.info({ a: 1 }, 'info')).toBeUndefined();
    expect(quietLogger.warn({ a: 1 }, 'warn')).toBeUndefined();
    expect(quietLogger.error(new Error('x'), 'error')).toBeUndefined();
  });
});
