import { expect } from 'vitest';
import type { Decider } from '../../domain/decider.ts';
import { fold } from '../../domain/decider.ts';
import { DomainError } from '../../domain/errors.ts';

/**
 * Given / when / then for a decider, after emmett's `DeciderSpecification`:
 *
 *   const spec = DeciderSpecification.for(rideDecider);
 *   spec.given([requested]).when(offer).then([offered]);
 *   spec.given([]).when(accept).thenThrows('NOT_FOUND', 404);
 *
 * The given events and the state folded from them are deep-frozen before `decide` runs, so a
 * decider that mutates its state (instead of returning events) fails the spec with a TypeError.
 * `decide` is also run twice on the same state: a pure decider answers the same both times.
 */
export const DeciderSpecification = {
  for<Command, E, State>(decider: Decider<Command, E, State>) {
    return {
      given(events: readonly E[]) {
        return {
          when(command: Command) {
            return outcomes(decider, events, command);
          },
        };
      },
    };
  },
};

function outcomes<Command, E, State>(decider: Decider<Command, E, State>, given: readonly E[], command: Command) {
  const decide = (): E[] => {
    const state = deepFreeze(fold(decider, deepFreeze(structuredClone(given))));
    return decider.decide(deepFreeze(structuredClone(command)), state);
  };
  return {
    /** The command is accepted and appends exactly these events, in this order. */
    then(expected: readonly E[]): void {
      const events = decide();
      expect(events).toStrictEqual(expected);
      expect(decide(), 'decide is not deterministic').toStrictEqual(events);
    },
    /** The command is accepted and appends nothing (an idempotent repeat, a stale timer). */
    thenNothing(): void {
      expect(decide()).toStrictEqual([]);
    },
    /** The command breaks a rule: one DomainError with this code and HTTP status. Returned for further checks. */
    thenThrows(code: string, statusCode: number): DomainError {
      let events: E[] | undefined;
      let thrown: unknown;
      try {
        events = decide();
      } catch (error) {
        thrown = error;
      }
      if (events !== undefined) expect.fail(`expected ${code} (${statusCode}), but the command was accepted with ${JSON.stringify(events)}`);
      expect(thrown).toBeInstanceOf(DomainError);
      const error = thrown as DomainError;
      expect({ code: error.code, statusCode: error.statusCode }, error.message).toStrictEqual({ code, statusCode });
      return error;
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
