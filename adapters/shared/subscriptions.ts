import type { Subscription } from '../../domain/ports/event-log.ts';

/**
 * The subscriptions a log has handed out, so its `close` can close them all. Shared by the Redis and
 * Kafka logs: each wraps its members in `track`, which forgets them once closed or aborted.
 */
export function subscriptionSet() {
  const open = new Set<Subscription>();
  return {
    track(member: Subscription): Subscription {
      const sub: Subscription = {
        close: () => member.close().finally(() => open.delete(sub)),
        abort: () => member.abort().finally(() => open.delete(sub)),
      };
      open.add(sub);
      return sub;
    },
    /** Closes every open subscription gracefully; one that fails to close does not stop the others. */
    closeAll: async () => void (await Promise.allSettled([...open].map((s) => s.close()))),
  };
}

/** True when `probe` answers true within `timeoutMs`; false when it fails or is late (readiness). */
export async function answersWithin(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
  try {
    return await Promise.race([probe(), late]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
