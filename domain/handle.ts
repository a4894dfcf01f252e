import type { Decider } from './decider.ts';
import { DomainError } from './errors.ts';
import type { Event, EventLog, Recorded, StreamName } from './ports/event-log.ts';

export interface Handled<State> {
  readonly state: State;
  readonly appended: Recorded[];
}

/**
 * Load → decide → append with the version we decided on. On a version conflict another writer got
 * there first, so we reload and decide again: the decider sees the new state and may now refuse.
 */
export async function handle<Command, E extends Event, State>(
  log: EventLog,
  stream: StreamName,
  key: string,
  decider: Decider<Command, E, State>,
  command: Command,
  attempts = 5,
): Promise<Handled<State>> {
  for (let attempt = 1; ; attempt++) {
    const history = (await log.readKey(stream, key)) as unknown as Recorded<E>[];
    let state = history.reduce<State>((s, e) => decider.evolve(s, e), decider.initialState());
    const events = decider.decide(command, state);
    if (events.length === 0) return { state, appended: [] };
    try {
      const appended = await log.append(stream, key, events, { expectedVersion: history.length });
      for (const e of events) state = decider.evolve(state, e);
      return { state, appended };
    } catch (err) {
      if (!(err instanceof DomainError && err.code === 'VERSION_CONFLICT') || attempt >= attempts) throw err;
    }
  }
}

/** Current state of one entity, folded from its history. */
export async function load<Command, E extends Event, State>(
  log: EventLog,
  stream: StreamName,
  key: string,
  decider: Decider<Command, E, State>,
): Promise<{ state: State; version: number; history: Recorded<E>[] }> {
  const history = (await log.readKey(stream, key)) as unknown as Recorded<E>[];
  return { state: history.reduce<State>((s, e) => decider.evolve(s, e), decider.initialState()), version: history.length, history };
}
