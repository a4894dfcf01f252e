/**
 * One async critical section per key: callers for the same key run one after another, in call
 * order; different keys run concurrently. The map only holds keys with someone waiting or running.
 */
export function keyLock() {
  const tails = new Map<string, Promise<void>>();
  return async function withKey<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => mine);
    tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
