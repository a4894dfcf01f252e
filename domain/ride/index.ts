import type { Decider } from '../decider.ts';
import type { RideCommand } from './commands.ts';
import { decide } from './decide.ts';
import type { RideEvent } from './events.ts';
import { evolve, initialState, type RideState } from './state.ts';

export const rideDecider: Decider<RideCommand, RideEvent, RideState> = { initialState, evolve, decide };
export * from './events.ts';
export * from './state.ts';
export type * from './commands.ts';
export * from './messages.ts';
export * from './offer.ts';
export * from './view.ts';
export * from './visibility.ts';
