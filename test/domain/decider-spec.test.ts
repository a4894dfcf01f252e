import { describe, expect, it } from 'vitest';
import type { Decider } from '../../domain/decider.ts';
import { DomainError } from '../../domain/errors.ts';
import { DeciderSpecification } from '../support/decider-spec.ts';

// The helper must be able to fail, or every spec written with it proves nothing.
type Counted = { type: 'Counted'; data: { by: number } };
type Count = { type: 'Count'; data: { by: number } };
type State = { total: number; log: number[] };

const counter: Decider<Count, Counted, State> = {
  initialState: () => ({ total: 0, log: [] }),
  evolve: (s, e) => ({ total: s.total + e.data.by, log: [...s.log, e.data.by] }),
  decide: (c, s) => {
    if (c.data.by < 0) throw new DomainError('NEGATIVE', 400, 'cannot count down');
    if (s.total + c.data.by > 10) throw new Error('plain error');
    return c.data.by === 0 ? [] : [{ type: 'Counted', data: { by: c.data.by } }];
  },
};
const spec = DeciderSpecification.for(counter);
const count = (by: number): Count => ({ type: 'Count', data: { by } });
const counted = (by: number): Counted => ({ type: 'Counted', data: { by } });

describe('DeciderSpecification', () => {
  it('passes when the decider does what is expected', () => {
    spec.given([counted(2)]).when(count(3)).then([counted(3)]);
    spec.given([]).when(count(0)).thenNothing();
    expect(spec.given([]).when(count(-1)).thenThrows('NEGATIVE', 400).message).toBe('cannot count down');
  });

  it('fails on other events, or on events where nothing was expected', () => {
    expect(() => spec.given([]).when(count(3)).then([counted(4)])).toThrow();
    expect(() => spec.given([]).when(count(3)).then([])).toThrow();
    expect(() => spec.given([]).when(count(3)).thenNothing()).toThrow();
  });

  it('fails when the command is accepted, or fails with another code, status or a non-domain error', () => {
    expect(() => spec.given([]).when(count(3)).thenThrows('NEGATIVE', 400)).toThrow(/was accepted/);
    expect(() => spec.given([]).when(count(-1)).thenThrows('OTHER', 400)).toThrow();
    expect(() => spec.given([]).when(count(-1)).thenThrows('NEGATIVE', 409)).toThrow();
    expect(() => spec.given([counted(10)]).when(count(1)).thenThrows('NEGATIVE', 400)).toThrow();
    expect(() => spec.given([]).when(count(-1)).then([])).toThrow('cannot count down');
  });

  it('catches a decider that mutates its state', () => {
    const mutating = DeciderSpecification.for<Count, Counted, State>({
      ...counter,
      decide: (c, s) => {
        s.log.push(c.data.by);
        return [];
      },
    });
    expect(() => mutating.given([counted(1)]).when(count(1)).thenNothing()).toThrow(TypeError);
  });
});
