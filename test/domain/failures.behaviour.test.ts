import { describe, expect, it } from 'vitest';
import { DomainError } from '../../domain/errors.ts';
import { backoffMs, classifyFailure, PermanentFailure } from '../../domain/failures.ts';

const named = (name: string) => Object.assign(new Error('x'), { name });
const wrap = (err: unknown, times: number): unknown => (times === 0 ? err : new Error('wrapped', { cause: wrap(err, times - 1) }));

// What an operator sees: a transient failure is retried until it passes, a permanent one is dead-lettered.
describe('classifyFailure at its edges', () => {
  it.each(['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'URIError'])('a %s (the code or data is wrong) is permanent', (name) => {
    expect(classifyFailure(named(name))).toBe('permanent');
  });

  it('other error names, or none, are transient', () => {
    expect(classifyFailure(named('ReplyError'))).toBe('transient');
    expect(classifyFailure({ name: 42 })).toBe('transient');
    expect(classifyFailure({})).toBe('transient');
    expect(classifyFailure(null)).toBe('transient');
    expect(classifyFailure(undefined)).toBe('transient');
  });

  it('only a flag that is exactly true counts', () => {
    expect(classifyFailure({ permanent: 'yes', name: 'ReplyError' })).toBe('transient');
    expect(classifyFailure({ transient: 1, name: 'TypeError' })).toBe('permanent');
    expect(classifyFailure({ transient: true, name: 'TypeError' })).toBe('transient');
    expect(classifyFailure({ permanent: true, transient: true })).toBe('permanent');
  });

  it('a domain refusal below 500 is permanent, a backend fault from 500 on transient', () => {
    expect(classifyFailure(new DomainError('SOMETHING', 499, 'x'))).toBe('permanent');
    expect(classifyFailure(new DomainError('UNAVAILABLE', 500, 'x'))).toBe('transient');
    expect(classifyFailure(new DomainError('VERSION_CONFLICT', 409, 'x'))).toBe('transient');
  });

  it('a domain error decides by itself, whatever it wraps', () => {
    expect(classifyFailure(Object.assign(new DomainError('DRIVER_BUSY', 409, 'x'), { cause: named('ReplyError') }))).toBe('permanent');
  });

  it('looks through up to five wrappers, then gives up as transient', () => {
    expect(classifyFailure(wrap(named('TypeError'), 5))).toBe('permanent');
    expect(classifyFailure(wrap(named('TypeError'), 6))).toBe('transient');
  });

  it('a PermanentFailure says so by name, flag, message and cause', () => {
    const cause = new Error('root');
    const f = new PermanentFailure('ride r_1 has no rider', { cause });
    expect(f).toBeInstanceOf(Error);
    expect(f.name).toBe('PermanentFailure');
    expect(f.permanent).toBe(true);
    expect(f.message).toBe('ride r_1 has no rider');
    expect(f.cause).toBe(cause);
  });
});

describe('backoff at its edges', () => {
  const b = { baseMs: 100, maxMs: 1e15 };
  it('the first retry waits the base; attempt 0 or below also the base', () => {
    expect(backoffMs(1, b)).toBe(100);
    expect(backoffMs(0, b)).toBe(100);
    expect(backoffMs(-3, b)).toBe(100);
  });
  it('doubling stops at 2^30 times the base, so the wait stays finite without a cap', () => {
    expect(backoffMs(31, b)).toBe(100 * 2 ** 30);
    expect(backoffMs(40, b)).toBe(100 * 2 ** 30);
    expect(backoffMs(30, b)).toBe(100 * 2 ** 29);
  });
  it('the cap itself is a possible wait', () => {
    expect(backoffMs(3, { baseMs: 100, maxMs: 400 })).toBe(400);
    expect(backoffMs(3, { baseMs: 100, maxMs: 399 })).toBe(399);
  });
});
