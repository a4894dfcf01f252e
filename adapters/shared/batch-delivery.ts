import { backoffMs, classifyFailure, type Backoff, type FailureKind } from '../../domain/failures.ts';
import { handledBefore, type Recorded } from '../../domain/ports/event-log.ts';

/**
 * How a batch is handed to a subscriber, the same on every adapter (memory, Redis, Kafka): what each
 * adapter differs in is only how it acknowledges, how it waits, and where a dead letter goes.
 */

/** How a failed event ended: handled (acknowledge it), settled (dead-lettered, or another member has it), or stop (leave it pending). */
export type Outcome = 'handled' | 'settled' | 'stop';

export interface BatchSteps {
  /** The subscriber's handler as a batch handler (batchHandlerOf). */
  readonly handler: (events: readonly Recorded[]) => Promise<void>;
  /** Events [from, to) of the batch were handled: acknowledge them (at once, or with the next `flush`). */
  readonly handled: (from: number, to: number) => void | Promise<void>;
  /** Before a retry that may take long: send what `handled` gathered, so a crash then redelivers less. */
  readonly flush?: () => Promise<void>;
  /** Retries event `index` in place after it failed with `error` (retryInPlace), acknowledging it as the store needs. */
  readonly retry: (index: number, error: unknown) => Promise<Outcome>;
  /** True once nothing more may be acknowledged (the member was aborted, as a crash would). */
  readonly aborted: () => boolean;
}

/**
 * Hands `events` to the handler as one batch. A rejection made by `batchFailure(i, err)` says events
 * before i are done (any other rejection: none are): those are acknowledged, event i is retried in
 * place under the failure policy, then the rest of the batch goes on as one batch again.
 * True when the whole batch was dealt with; false when the member stopped first (the rest stays
 * unacknowledged, for redelivery). Acknowledging the end of the batch is the caller's: it knows
 * what else the batch held (trimmed or undecodable entries) and acknowledges it all at once.
 */
export async function deliverBatch(events: readonly Recorded[], steps: BatchSteps): Promise<boolean> {
  for (let from = 0; from < events.length; ) {
    try {
      await steps.handler(from === 0 ? events : events.slice(from));
    } catch (err) {
      if (steps.aborted()) return false;
      const failed = from + Math.min(handledBefore(err), events.length - from - 1);
      await steps.handled(from, failed);
      await steps.flush?.();
      const outcome = await steps.retry(failed, err);
      if (outcome === 'stop' || steps.aborted()) return false;
      from = failed + 1;
      continue;
    }
    if (steps.aborted()) return false;
    await steps.handled(from, events.length);
    from = events.length;
  }
  return !steps.aborted();
}

export interface RetryPolicy {
  /** The subscriber's handler as a batch handler: a retry hands it the one event. */
  readonly handler: (events: readonly Recorded[]) => Promise<void>;
  /** Deliveries of an event that fails for good (first try included) before it is dead-lettered. */
  readonly maxDeliveries: number;
  readonly backoff: Backoff;
  /** Waits `ms`; may return early when the member stops. */
  readonly pause: (ms: number) => Promise<void>;
  /** True once the member takes no new attempt (closing or aborted): the event stays unacknowledged. */
  readonly stopping: () => boolean;
  /** True once nothing more may be acknowledged (aborted). */
  readonly aborted: () => boolean;
  /** Sets the event aside for good; `deliveries` made. */
  readonly deadLetter: (error: unknown, deliveries: number) => Promise<void>;
  /**
   * Before each new attempt, after the wait: renew what keeps the event this member's (a Kafka
   * heartbeat, a Redis XCLAIM). False: another member has it now, leave it. May throw (a rebalance).
   */
  readonly beforeAttempt?: () => Promise<boolean>;
  /** Told of each failure that will be retried (logging). */
  readonly onFailure?: (error: unknown, attempt: number, deliveries: number, kind: FailureKind) => void;
}

/**
 * A failed event is retried in place, so the events behind it wait (order per key): a transient
 * failure (a backend refusing writes) until it passes, a permanent one (domain/failures.ts) until it
 * has been delivered maxDeliveries times; then it is dead-lettered. `deliveries` counts the failed
 * delivery (1, or what the store counted: Redis XPENDING).
 */
export async function retryInPlace(event: Recorded, firstError: unknown, deliveries: number, p: RetryPolicy): Promise<Outcome> {
  let err = firstError;
  for (let attempt = 1; ; attempt++) {
    const kind = classifyFailure(err);
    if (kind === 'permanent' && deliveries >= p.maxDeliveries) {
      await p.deadLetter(err, deliveries);
      return 'settled';
    }
    p.onFailure?.(err, attempt, deliveries, kind);
    await p.pause(backoffMs(attempt, p.backoff));
    if (p.stopping()) return 'stop';
    if (p.beforeAttempt && !(await p.beforeAttempt())) return 'settled';
    if (p.stopping()) return 'stop';
    deliveries++;
    try {
      await p.handler([event]);
      return p.aborted() ? 'stop' : 'handled';
    } catch (e) {
      if (p.aborted()) return 'stop';
      err = e;
    }
  }
}
