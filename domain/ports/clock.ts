/**
 * The one source of "now" (milliseconds since the epoch). Every service, adapter, projection and
 * limiter receives it; nothing else reads `Date.now()`, so tests advance time instead of sleeping.
 */
export interface Clock {
  now(): number;
}

/** The wall clock, for production wiring only. */
export const systemClock: Clock = { now: () => Date.now() };
