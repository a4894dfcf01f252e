import { describe, expect, it } from 'vitest';
import { batchFailure, batchHandlerOf, eventIdOf, handledBefore, STREAMS, type Recorded } from '../../domain/ports/event-log.ts';

/**
 * The event-log port's rules for a subscriber's handler: which events of a batch count as handled
 * when the handler fails part-way (the rest are delivered again), and what an event's id looks like.
 */
const event = (n: number): Recorded =>
  ({
    type: 'Tick',
    data: { n },
    metadata: { eventId: `rides:${n}`, stream: 'rides', position: String(n), key: 'k', version: n, recordedAtMs: 0 },
  }) as Recorded;

describe('a per-event handler run over a batch', () => {
  it('handles every event of the batch, in order', async () => {
    const seen: number[] = [];
    await batchHandlerOf({ handler: async (e) => void seen.push((e.data as { n: number }).n) })([event(1), event(2), event(3)]);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('stops at the first failure and says how many events before it were handled', async () => {
    const seen: number[] = [];
    const cause = new Error('READONLY replica');
    const run = batchHandlerOf({
      handler: async (e) => {
        const n = (e.data as { n: number }).n;
        if (n === 3) throw cause;
        seen.push(n);
      },
    });
    const err = await run([event(1), event(2), event(3), event(4)]).catch((e: unknown) => e);
    expect(seen).toEqual([1, 2]);
    expect(handledBefore(err)).toBe(2);
    expect((err as Error).message).toBe('READONLY replica');
    expect((err as Error).cause).toBe(cause);
  });

  it('a failure on the first event is the handler’s own error: nothing of the batch was handled', async () => {
    const cause = new TypeError('bad event');
    const err = await batchHandlerOf({ handler: async () => Promise.reject(cause) })([event(1), event(2)]).catch((e: unknown) => e);
    expect(err).toBe(cause);
    expect(handledBefore(err)).toBe(0);
  });

  it('a batch handler, when given, is used as it is', () => {
    const batchHandler = async () => {};
    expect(batchHandlerOf({ batchHandler, handler: async () => {} })).toBe(batchHandler);
  });

  it('a subscriber with neither handler is refused', () => {
    expect(() => batchHandlerOf({})).toThrow('subscribe needs a handler or a batchHandler');
  });
});

describe('how many events of a batch a failure says were handled', () => {
  it('a batch failure says its count, and keeps the cause and its message', () => {
    const cause = new Error('OOM');
    const f = batchFailure(3, cause);
    expect(handledBefore(f)).toBe(3);
    expect(f.message).toBe('OOM');
    expect(f.cause).toBe(cause);
    expect(batchFailure(1, 'plain string').message).toBe('plain string');
  });

  it.each([
    ['an ordinary error', new Error('x')],
    ['nothing at all', null],
    ['undefined', undefined],
    ['a count of zero', { handled: 0 }],
    ['a negative count', { handled: -2 }],
    ['a fractional count', { handled: 1.5 }],
    ['a count that is not a number', { handled: '2' }],
  ])('%s says none', (_what, err) => {
    expect(handledBefore(err)).toBe(0);
  });
});

describe('event ids', () => {
  it('name the stream and the position, so one id names one event across streams', () => {
    expect(eventIdOf('driver-locations', '17-0')).toBe('driver-locations:17-0');
    expect(STREAMS).toEqual(['rides', 'drivers', 'driver-locations']);
  });
});
