/** A decider: three pure members (emmett's shape). State is folded from events; commands decide new events. */
export interface Decider<Command, E, State> {
  initialState(): State;
  evolve(state: State, event: E): State;
  decide(command: Command, state: State): E[];
}

export const fold = <Command, E, State>(decider: Decider<Command, E, State>, events: readonly E[]): State =>
  events.reduce(decider.evolve, decider.initialState());
