/** One key's count in its current window, and how long until that window ends. */
export interface AttemptCount {
  readonly count: number;
  readonly resetInMs: number;
}

/**
 * Fixed-window counters shared by every instance: failed logins per account and per address.
 * A window starts with the first hit on a key and ends `windowMs` later.
 */
export interface AttemptCounter {
  /** Adds `by` (default 1; -1 takes one back) to the key's count, starting its window if none; returns the new count. */
  hit(key: string, windowMs: number, by?: number): Promise<AttemptCount>;
  /** The key's count now, without adding (0 when no window is open). */
  peek(key: string): Promise<AttemptCount>;
  /** Ends the key's window. */
  reset(key: string): Promise<void>;
}
