/** A seeded source of randomness, so a city and a fleet replay the same way for the same seed. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [min, max). */
  between(min: number, max: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Standard normal (mean 0, deviation 1). */
  gaussian(): number;
  /** Poisson-distributed count with mean lambda (Knuth; fine for the small means a tick sees). */
  poisson(lambda: number): number;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: a tiny 32-bit generator with good enough statistics for simulation. */
export function createRandom(seed: number): Random {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    between: (min, max) => min + next() * (max - min),
    chance: (p) => next() < p,
    gaussian: () => {
      // Box–Muller; 1 - next() keeps log() away from zero.
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    poisson: (lambda) => {
      const limit = Math.exp(-lambda);
      let k = 0;
      let p = next();
      while (p > limit) {
        k++;
        p *= next();
      }
      return k;
    },
    pick: (items) => {
      if (items.length === 0) throw new RangeError('pick() from an empty list');
      return items[int(items.length)]!;
    },
  };
}
