import { describe, expect, it } from 'vitest';
import { getInMemoryEventLog } from '../../adapters/memory/event-log.ts';
import type { Decider } from '../../domain/decider.ts';
import { DomainError, versionConflict } from '../../domain/errors.ts';
import { handle as handleTyped } from '../../domain/handle.ts';
import type { Event, EventLog as TypedEventLog, Recorded } from '../../domain/ports/event-log.ts';
import { opaque, type OpaqueLog } from '../support/opaque-log.ts';

/**
 * The log stores events without reading them, so `handle` is exercised here with a seat counter on
 * the rides stream: the typed port would refuse its events, so the tests see the log untyped.
 */
type EventLog = OpaqueLog<TypedEventLog>;
type Handled<S> = { state: S; appended: Recorded[] };
const handle = handleTyped as unknown as <C, S>(log: EventLog, stream: string, key: string, decider: Decider<C, SeatEvent, S>, command: C, attempts?: number) => Promise<Handled<S>>;

/**
 * What a caller of `handle` observes, on a small decider (a seat counter with a capacity) so the
 * tests do not depend on the ride's rules: the command's events land at the entity's version, a
 * concurrent writer makes the command be decided again on the new state, a lost reply is not applied
 * twice, and a backend failure is reported, not retried.
 */
type SeatEvent = Event<'Booked' | 'Released', { seats: number }>;
type SeatCommand =
  | { type: 'Book'; seats: number }
  | { type: 'BookTwice'; seats: number }
  | { type: 'Release'; seats: number }
  | { type: 'Look' };
interface Seats {
  readonly booked: number;
}
const CAPACITY = 4;

const seats: Decider<SeatCommand, SeatEvent, Seats> = {
  initialState: () => ({ booked: 0 }),
  evolve: (s, e) => ({ booked: s.booked + (e.type === 'Booked' ? e.data.seats : -e.data.seats) }),
  decide: (c, s) => {
    if (c.type === 'Look') return [];
    if (c.type === 'Release') return [{ type: 'Released', data: { seats: c.seats } }];
    const events: SeatEvent[] =
      c.type === 'Book' ? [{ type: 'Booked', data: { seats: c.seats } }] : [0, 1].map(() => ({ type: 'Booked', data: { seats: c.seats } }));
    const wanted = events.reduce((n, e) => n + e.data.seats, 0);
    if (s.booked + wanted > CAPACITY) throw new DomainError('FULL', 409, `only ${CAPACITY - s.booked} seats left`);
    return events;
  },
};

const book = (n: number): SeatCommand => ({ type: 'Book', seats: n });
const booked = (n: number): SeatEvent => ({ type: 'Booked', data: { seats: n } });
const released = (n: number): SeatEvent => ({ type: 'Released', data: { seats: n } });

/** A log on which another writer appends `theirs` just before each of our first `times` appends. */
function raced(inner: EventLog, theirs: readonly Event[], times = 1): EventLog & { ourAppends: () => number } {
  let ours = 0;
  return {
    ...inner,
    ourAppends: () => ours,
    async append(stream, key, events, options) {
      ours++;
      if (ours <= times) await inner.append(stream, key, theirs);
      return inner.append(stream, key, events, options);
    },
  };
}

/** A log whose appends all fail with `err` (the reads still answer); counts the tries. */
function failingWrites(inner: EventLog, err: () => Error): EventLog & { tries: () => number } {
  let tries = 0;
  return {
    ...inner,
    tries: () => tries,
    async append() {
      tries++;
      throw err();
    },
  };
}

/** A log whose append lands but whose reply is lost, so the caller sees its own write as a conflict. */
function lostReply(inner: EventLog, landed: (events: readonly Event[]) => readonly Event[] = (e) => e): EventLog {
  return {
    ...inner,
    async append(stream, key, events, options) {
      await inner.append(stream, key, landed(events), options);
      throw versionConflict(typeof stream === 'string' ? stream : stream.name, key, options?.expectedVersion ?? 0, (await inner.readKey(stream, key)).length);
    },
  };
}

const types = async (log: EventLog) => (await log.readKey('rides', 'bus')).map((e) => [e.type, (e.data as { seats: number }).seats]);

describe('handle: what the caller of a command observes', () => {
  it('appends the decided events after the entity’s history and answers the state that includes them', async () => {
    const log = opaque(getInMemoryEventLog());
    await handle(log, 'rides', 'bus', seats, book(1));
    const { state, appended } = await handle(log, 'rides', 'bus', seats, book(2));
    expect(state).toEqual({ booked: 3 });
    expect(appended.map((e) => [e.type, e.metadata.version])).toEqual([['Booked', 2]]);
    expect(await types(log)).toEqual([['Booked', 1], ['Booked', 2]]);
  });

  it('a command that decides nothing answers the current state and writes nothing, even when the log refuses writes', async () => {
    const inner = opaque(getInMemoryEventLog());
    await inner.append('rides', 'bus', [booked(3)], { expectedVersion: 0 });
    const readOnly = failingWrites(inner, () => new DomainError('LOG_READONLY', 503, 'read-only replica'));
    expect(await handle(readOnly, 'rides', 'bus', seats, { type: 'Look' })).toEqual({ state: { booked: 3 }, appended: [] });
    expect(readOnly.tries()).toBe(0);
  });

  it('when another writer got there first, the command is decided again on their events and lands after them', async () => {
    const log = raced(getInMemoryEventLog(), [booked(1)]);
    const { state, appended } = await handle(log, 'rides', 'bus', seats, book(2));
    expect(state).toEqual({ booked: 3 });
    expect(appended.map((e) => e.metadata.version)).toEqual([2]);
    expect(await types(log)).toEqual([['Booked', 1], ['Booked', 2]]);
  });

  it('another writer’s event of another kind with the same data is theirs, not ours: ours is decided again', async () => {
    const inner = opaque(getInMemoryEventLog());
    await inner.append('rides', 'bus', [booked(2)], { expectedVersion: 0 });
    const log = raced(inner, [released(2)]);
    const { state } = await handle(log, 'rides', 'bus', seats, book(2));
    expect(state).toEqual({ booked: 2 });
    expect(await types(log)).toEqual([['Booked', 2], ['Released', 2], ['Booked', 2]]);
  });

  it('when the other writer’s events make the command break a rule, it is refused and nothing of ours is written', async () => {
    const log = raced(getInMemoryEventLog(), [booked(3)]);
    await expect(handle(log, 'rides', 'bus', seats, book(2))).rejects.toMatchObject({ code: 'FULL' });
    expect(await types(log)).toEqual([['Booked', 3]]);
  });

  it('a writer that loses every race gives up after 5 tries with the conflict; fewer tries when asked', async () => {
    const log = raced(getInMemoryEventLog(), [released(1)], Number.POSITIVE_INFINITY);
    await expect(handle(log, 'rides', 'bus', seats, book(1))).rejects.toMatchObject({ code: 'VERSION_CONFLICT', statusCode: 409 });
    expect(log.ourAppends()).toBe(5);
    expect(await types(log)).toEqual(Array.from({ length: 5 }, () => ['Released', 1]));

    const once = raced(getInMemoryEventLog(), [released(1)], Number.POSITIVE_INFINITY);
    await expect(handle(once, 'rides', 'bus', seats, book(1), 2)).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
    expect(once.ourAppends()).toBe(2);
  });

  it('a writer that loses the first races but wins within its tries succeeds', async () => {
    const log = raced(getInMemoryEventLog(), [released(1)], 4);
    const { state } = await handle(log, 'rides', 'bus', seats, book(1));
    expect(state).toEqual({ booked: -3 });
    expect(log.ourAppends()).toBe(5);
  });

  it.each([
    ['the log is closed', () => new DomainError('LOG_CLOSED', 503, 'the event log is closed')],
    ['the backend refused the write', () => Object.assign(new Error("READONLY You can't write against a read only replica."), { name: 'ReplyError' })],
    ['an error that merely calls itself a conflict', () => Object.assign(new Error('conflict'), { code: 'VERSION_CONFLICT' })],
  ])('a failure that is not a version conflict (%s) reaches the caller after one try', async (_what, err) => {
    const log = failingWrites(getInMemoryEventLog(), err);
    await expect(handle(log, 'rides', 'bus', seats, book(1))).rejects.toThrow(err().message);
    expect(log.tries()).toBe(1);
  });

  it('an append that landed but whose reply was lost counts once: the caller gets its events as recorded', async () => {
    const inner = opaque(getInMemoryEventLog());
    await inner.append('rides', 'bus', [booked(1)], { expectedVersion: 0 });
    const { state, appended } = await handle(lostReply(inner), 'rides', 'bus', seats, { type: 'BookTwice', seats: 1 });
    expect(state).toEqual({ booked: 3 });
    expect(appended.map((e) => [e.type, e.metadata.version])).toEqual([['Booked', 2], ['Booked', 3]]);
    expect(await types(inner)).toEqual([['Booked', 1], ['Booked', 1], ['Booked', 1]]);
  });

  it('only a whole copy of the decision at our version counts as ours: half of it is another writer’s, so decide again', async () => {
    const inner = opaque(getInMemoryEventLog());
    // The first try lands only the first of our two events (another writer's identical booking), then conflicts.
    let first = true;
    const log: EventLog = {
      ...inner,
      async append(stream, key, events, options) {
        if (!first) return inner.append(stream, key, events, options);
        first = false;
        return lostReply(inner, (e) => e.slice(0, 1)).append(stream, key, events, options);
      },
    };
    const { state, appended } = await handle(log, 'rides', 'bus', seats, { type: 'BookTwice', seats: 1 });
    expect(state).toEqual({ booked: 3 });
    expect(appended.map((e) => e.metadata.version)).toEqual([2, 3]);
    expect(await types(inner)).toEqual([['Booked', 1], ['Booked', 1], ['Booked', 1]]);
  });

  it('a lost reply is recognised even when another writer appended after it: the booking is not made twice', async () => {
    const inner = opaque(getInMemoryEventLog());
    const log: EventLog = {
      ...inner,
      async append(stream, key, events, options) {
        await inner.append(stream, key, events, options);
        await inner.append(stream, key, [released(1)]);
        throw versionConflict(typeof stream === 'string' ? stream : stream.name, key, options?.expectedVersion ?? 0, (await inner.readKey(stream, key)).length);
      },
    };
    const { state, appended } = await handle(log, 'rides', 'bus', seats, book(2));
    expect(state).toEqual({ booked: 2 });
    expect(appended.map((e) => [e.type, e.metadata.version])).toEqual([['Booked', 1]]);
    expect(await types(inner)).toEqual([['Booked', 2], ['Released', 1]]);
  });
});
