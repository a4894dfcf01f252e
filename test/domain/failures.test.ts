import { describe, expect, it } from 'vitest';
import { DomainError, versionConflict } from '../../domain/errors.ts';
import { backoffMs, classifyFailure, PermanentFailure } from '../../domain/failures.ts';

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('classifyFailure: retry until it passes, or dead-letter', () => {
  it.each([
    ['Redis out of memory', named('ReplyError', "OOM command not allowed when used memory > 'maxmemory'.")],
    ['a READONLY replica after failover', named('ReplyError', "READONLY You can't write against a read only replica.")],
    ['an ACL refusing the write', named('ReplyError', 'NOPERM this user has no permissions to access one of the keys used as arguments')],
    ['Redis loading its AOF', named('ReplyError', 'LOADING Redis is loading the dataset in memory')],
    ['a dropped connection', new Error('Connection is closed.')],
    ['ioredis giving up on a request', named('MaxRetriesPerRequestError', 'Reached the max retries per request limit')],
    ['a Kafka broker unreachable', named('KafkaJSConnectionError', 'Connection timeout')],
    ['a lost version race', versionConflict('drivers', 'd_1', 3, 4)],
    ['the log closed under the handler', new DomainError('LOG_CLOSED', 503, 'the event log is closed')],
    ['an error marked transient', Object.assign(new Error('gateway busy'), { transient: true })],
    ['something thrown that is not an Error', 'boom'],
    ['a wrapper around a refused write', new Error('handler failed', { cause: named('ReplyError', 'READONLY You can’t write against a read only replica.') })],
  ])('%s is transient', (_what, err) => {
    expect(classifyFailure(err)).toBe('transient');
  });

  it.each([
    ['a broken invariant (the decider refuses)', new DomainError('DRIVER_BUSY', 409, 'driver d_1 is already on ride r_0')],
    ['an entity that does not exist', new DomainError('NOT_FOUND', 404, 'ride r_1 not found')],
    ['undecodable data', new SyntaxError('Unexpected token } in JSON at position 12')],
    ['an event of the wrong shape', new TypeError("Cannot read properties of undefined (reading 'driverId')")],
    ['a PermanentFailure', new PermanentFailure('ride r_1 has no rider')],
    ['an error marked permanent', Object.assign(new Error('card declined for good'), { permanent: true })],
    ['a wrapper around a broken invariant (a batch failure)', new Error('driver d_1 is already on ride r_0', { cause: new DomainError('DRIVER_BUSY', 409, 'busy') })],
  ])('%s is permanent', (_what, err) => {
    expect(classifyFailure(err)).toBe('permanent');
  });
});

describe('backoffMs', () => {
  it('doubles from the base and never passes the cap', () => {
    const waits = Array.from({ length: 12 }, (_, i) => backoffMs(i + 1, { baseMs: 50, maxMs: 5_000 }));
    expect(waits).toEqual([50, 100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000, 5_000, 5_000]);
    expect(backoffMs(10_000, { baseMs: 50, maxMs: 5_000 })).toBe(5_000);
  });
});
