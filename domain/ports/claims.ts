/**
 * Atomic first-writer-wins claims: an Idempotency-Key → ride, a rider → their unfinished ride.
 * `claim` returns null when it won, or the value someone else holds.
 */
export interface Claims {
  claim(key: string, value: string, ttlMs?: number): Promise<string | null>;
  /** Drops the claim only if it still holds `value` (compare-and-delete). */
  release(key: string, value: string): Promise<void>;
}
