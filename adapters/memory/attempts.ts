import { systemClock } from '../../domain/ports/clock.ts';
import type { AttemptCounter } from '../../domain/ports/attempts.ts';

/** Attempt counters in this process. Expired windows are dropped as they are met and swept when many pile up. */
export function getInMemoryAttemptCounter(now: () => number = systemClock.now): AttemptCounter {
  const windows = new Map<string, { count: number; until: number }>();
  const live = (key: string) => {
    const w = windows.get(key);
    if (w && w.until <= now()) windows.delete(key);
    return windows.get(key);
  };
  const sweep = () => {
    const t = now();
    for (const [key, w] of windows) if (w.until <= t) windows.delete(key);
  };
  return {
    async hit(key, windowMs, by = 1) {
      let w = live(key);
      if (!w) {
        // Bounded memory: a spray of unknown names leaves at most one window each, gone when they end.
        if (windows.size >= 100_000) sweep();
        w = { count: 0, until: now() + windowMs };
        windows.set(key, w);
      }
      w.count += by;
      return { count: w.count, resetInMs: w.until - now() };
    },
    async peek(key) {
      const w = live(key);
      return w ? { count: w.count, resetInMs: w.until - now() } : { count: 0, resetInMs: 0 };
    },
    async reset(key) {
      windows.delete(key);
    },
  };
}
