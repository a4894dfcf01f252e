import type { Claims } from '../../domain/ports/claims.ts';

export function getInMemoryClaims(now: () => number = Date.now): Claims {
  const held = new Map<string, { value: string; until: number }>();
  const live = (key: string) => {
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
    async get(key) {
      return live(key)?.value ?? null;
    },
    async release(key, value) {
      if (live(key)?.value === value) held.delete(key);
    },
  };
}
