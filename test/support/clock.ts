/**
 * A clock that follows real time until a test holds it still, then moves only when told. Timers in
 * the service keep running on real time; what reads this clock (rate limits, stamps) sees held time.
 */
export function testClock() {
  let held: number | null = null;
  let offset = 0;
  const now = () => held ?? Date.now() + offset;
  return {
    now,
    /** Stops time where it is now. */
    hold(): void {
      held = now();
    },
    /** Moves held time forward (holding it first if it was running). */
    advance(ms: number): void {
      held = now() + ms;
    },
    /** Lets time run again from where it was held, never backwards. */
    release(): void {
      if (held === null) return;
      offset = held - Date.now();
      held = null;
    },
  };
}

/**
 * The wall clock, except that every reading is a later millisecond than the one before: given to a
 * log, no two events are recorded in the same millisecond, so what orders events across streams by
 * the time they were recorded (a ride's replayed story) never meets a tie, and no test waits for the
 * clock to tick.
 */
export function strictClock() {
  let last = 0;
  return { now: () => (last = Math.max(Date.now(), last + 1)) };
}
