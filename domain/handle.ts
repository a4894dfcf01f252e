import type { Decider } from './decider.ts';
import { DomainError } from './errors.ts';
import type { Event, EventLog, EventsOf, Recorded, StreamName } from './ports/event-log.ts';

export interface Handled<State, E extends Event = Event> {
  readonly state: State;
  readonly appended: Recorded<E>[];
}

/**
 * Load → decide → append with the version we decided on. On a version conflict another writer got
 * there first, so we reload and decide again: the decider sees the new state and may now refuse.
 */
export async function handle<S extends StreamName, Command, State>(
  log: EventLog,
  stream: S,
  key: string,
  decider: Decider<Command, EventsOf<S>, State>,
  command: Command,
  attempts = 5,
): Promise<Handled<State, EventsOf<S>>> {
  for (let attempt = 1; ; attempt++) {
    const history = await log.readKey(stream, key);
    let state = history.reduce<State>((s, e) => decider.evolve(s, e), decider.initialState());
    const events = decider.decide(command, state);
    if (events.length === 0) return { state, appended: [] };
    try {
      const appended = await log.append(stream, key, events, { expectedVersion: history.length });
      for (const e of events) state = decider.evolve(state, e);
      return { state, appended };
    } catch (err) {
      if (!(err instanceof DomainError && err.code === 'VERSION_CONFLICT')) throw err;
      // A client library may resend an append whose reply a dropped connection lost: the "other
      // writer" was us. Our exact events at our version mean the command was applied, not refused.
      const ours = await appliedAlready(log, stream, key, history.length, events);
      if (ours) return { state: events.reduce<State>((s, e) => decider.evolve(s, e), state), appended: ours };
      if (attempt >= attempts) throw err;
    }
  }
}

/** The entity's events at `version`, if they are exactly `events` (times and ids make a decision unique). */
async function appliedAlready<S extends StreamName>(log: EventLog, stream: S, key: string, version: number, events: readonly Event[]): Promise<Recorded<EventsOf<S>>[] | null> {
  const next = (await log.readKey(stream, key)).slice(version, version + events.length);
  const same = next.length === events.length && next.every((e, i) => e.type === events[i]!.type && sameData(e.data, events[i]!.data));
  return same ? next : null;
}

const sameData = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
