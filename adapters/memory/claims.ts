import { systemClock } from '../../domain/ports/clock.ts';
import type { Claims } from '../../domain/ports/claims.ts';

/** How often (on the injected clock) a use of the store also sweeps out every expired claim. */
const SWEEP_EVERY_MS = 10_000;

/**
 * Claims in one process. Expired claims are dropped by themselves: every use sweeps the whole map
 * at most once per `SWEEP_EVERY_MS` of the injected clock, so idempotency keys nobody asks for
 * again do not pile up (no timer: nothing to stop, and tests move the clock).
 */
export function getInMemoryClaims(now: () => number = systemClock.now): Claims & { size(): number } {
  const held = new Map<string, { value: string; until: number }>();
  let sweptAt = now();
  const sweep = () => {
    const t = now();
    if (t - sweptAt < SWEEP_EVERY_MS) return;
    sweptAt = t;
    for (const [key, h] of held) if (h.until <= t) held.delete(key);
  };
  const live = (key: string) => {
    sweep();
    const h = held.get(key);
    if (h && h.until <= now()) held.delete(key);
    return held.get(key) ?? null;
  };
  return {
    async claim(key, value, ttlMs) {
      const h = live(key);
      if (h) return h.value;
      held.set(key, { value, until: ttlMs ? now() + ttlMs : Infinity });
      return null;
    },
    async release(key, value) {
      if (live(key)?.value === value) held.delete(key);
    },
    /** Claims held, expired ones not yet swept included (for tests and metrics). */
    size: () => held.size,
  };
}
