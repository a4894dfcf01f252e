import { describe, expect, it } from 'vitest';
import { streams, typedEventLog, type Event, type EventLogBackend, type Recorded } from '../../domain/ports/event-log.ts';

/**
 * The typed port over an adapter's backend: a stream named by its name or by its descriptor reaches
 * the backend as the descriptor; everything else of the backend passes through untouched, and the
 * optional dead-letter tools are there exactly when the backend has them.
 */
type Call = [string, ...unknown[]];

function fakeBackend(withDeadLetters: boolean) {
  const calls: Call[] = [];
  const recorded = [{ type: 'T', data: {}, metadata: {} }] as unknown as Recorded[];
  const subscription = { close: async () => {}, abort: async () => {} };
  const backend = {
    append: async (...args: unknown[]) => (calls.push(['append', ...args]), recorded),
    readKey: async (...args: unknown[]) => (calls.push(['readKey', ...args]), recorded),
    read: async (...args: unknown[]) => (calls.push(['read', ...args]), recorded),
    subscribe: async (...args: unknown[]) => (calls.push(['subscribe', ...args]), subscription),
    ping: async () => true,
    close: async () => void calls.push(['close']),
    replayDeadLetter: async (id: string) => (calls.push(['replayDeadLetter', id]), id === 'rides/1'),
    /** An adapter's own extra member. */
    flushForTests: () => 'flushed',
    ...(withDeadLetters ? { deadLetters: async (...args: unknown[]) => (calls.push(['deadLetters', ...args]), []) } : {}),
  } satisfies EventLogBackend & Record<string, unknown>;
  return { backend, calls, recorded, subscription };
}

describe('typedEventLog', () => {
  it('hands the backend the stream’s descriptor, however the caller named it, and returns what it answers', async () => {
    const { backend, calls, recorded, subscription } = fakeBackend(true);
    const log = typedEventLog(backend);
    const events: Event[] = [{ type: 'RideRequested', data: {} }];
    const handler = async () => {};
    expect(await log.append('rides', 'r_1', events as never, { expectedVersion: 0 })).toBe(recorded);
    expect(await log.append(streams.rides, 'r_2', events as never)).toBe(recorded);
    expect(await log.readKey('drivers', 'd_1')).toBe(recorded);
    expect(await log.read(streams['driver-locations'], { after: '5-0', limit: 10 })).toBe(recorded);
    expect(await log.subscribe('rides', { group: 'g', consumer: 'c', handler })).toBe(subscription);
    expect(await log.deadLetters!('drivers', { limit: 3 })).toStrictEqual([]);
    expect(calls).toStrictEqual([
      ['append', streams.rides, 'r_1', events, { expectedVersion: 0 }],
      ['append', streams.rides, 'r_2', events, undefined],
      ['readKey', streams.drivers, 'd_1'],
      ['read', streams['driver-locations'], { after: '5-0', limit: 10 }],
      ['subscribe', streams.rides, { group: 'g', consumer: 'c', handler }],
      ['deadLetters', streams.drivers, { limit: 3 }],
    ]);
  });

  it('keeps the backend’s other members: ping, close, replay, and its own extras', async () => {
    const { backend, calls } = fakeBackend(true);
    const log = typedEventLog(backend);
    expect(await log.ping()).toBe(true);
    expect(await log.replayDeadLetter!('rides/1')).toBe(true);
    expect(await log.replayDeadLetter!('rides/2')).toBe(false);
    expect(log.flushForTests()).toBe('flushed');
    await log.close();
    expect(calls).toStrictEqual([['replayDeadLetter', 'rides/1'], ['replayDeadLetter', 'rides/2'], ['close']]);
  });

  it('a backend that cannot list dead letters gives a log without deadLetters', () => {
    const log = typedEventLog(fakeBackend(false).backend);
    expect('deadLetters' in log).toBe(false);
    expect(typeof log.append).toBe('function');
  });
});
