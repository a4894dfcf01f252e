import { classifyFailure } from '../../domain/failures.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import { batchFailure, handledBefore, type Event, type Recorded } from '../../domain/ports/event-log.ts';
import type { Logger } from '../../domain/ports/logger.ts';
import type { Metrics } from './metrics.ts';

export interface ConsumerGuardDeps {
  readonly metrics: Pick<Metrics, 'handlerRetrying' | 'handlerFailures' | 'consumerLag'>;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
  readonly clock: Clock;
}

/**
 * What every consumer of this instance does around its handler: the lag gauge, and the failures
 * counted and logged once per event (not once per retry), with a recovery logged when a transiently
 * failing event finally passes. The log adapters do the retrying; this only watches it.
 */
export function makeConsumerGuards({ metrics, logger, clock }: ConsumerGuardDeps) {
  /** Per consumer group, the events failing transiently right now: the log retries them until they pass. */
  const retrying = new Map<string, Set<string>>();
  const failingOf = (name: string) => retrying.get(name) ?? retrying.set(name, new Set()).get(name)!;
  /** The lag gauge per consumer, its labels bound once: setting it with a label object hashes the labels on every call. */
  const lagGauges = new Map<string, { set(value: number): void }>();
  const lag = (name: string, e: Recorded) => {
    let gauge = lagGauges.get(name);
    if (!gauge) lagGauges.set(name, (gauge = metrics.consumerLag.labels({ consumer: name })));
    gauge.set(Math.max(0, (clock.now() - e.metadata.recordedAtMs) / 1000));
  };

  function recovered(name: string, e: Recorded): void {
    if (failingOf(name).delete(e.metadata.eventId)) {
      metrics.handlerRetrying.dec({ consumer: name });
      logger.info({ consumer: name, eventId: e.metadata.eventId }, 'event handler recovered');
    }
  }

  function failed(name: string, err: unknown, e: Recorded | undefined): void {
    const failing = failingOf(name);
    const eventId = e?.metadata.eventId ?? '?';
    const kind = classifyFailure(err);
    metrics.handlerFailures.inc({ consumer: name, kind });
    // Logged once per event, not once per retry: an outage of minutes would flood the log.
    if (kind === 'permanent' || !failing.has(eventId))
      logger.warn({ err, consumer: name, eventId, kind }, kind === 'transient' ? 'event handler failed; retrying until it passes' : 'event handler failed for good; it will be dead-lettered');
    if (kind === 'transient' && !failing.has(eventId)) {
      failing.add(eventId);
      metrics.handlerRetrying.inc({ consumer: name });
    }
  }

  return {
    /** A per-event handler, watched. */
    guarded: <E extends Event>(name: string, handler: (e: Recorded<E>) => unknown) => async (e: Recorded<E>) => {
      lag(name, e);
      try {
        await handler(e);
        recovered(name, e);
      } catch (err) {
        failed(name, err, e);
        throw err;
      }
    },
    /** A batch handler, watched: a failure at event i (batchFailure) is charged to event i. */
    batchesOf<E extends Event>(group: string, handler: (events: readonly Recorded<E>[]) => Promise<void>) {
      const failing = failingOf(group);
      return async (events: readonly Recorded<E>[]) => {
        const last = events.at(-1);
        if (last) lag(group, last);
        try {
          await handler(events);
        } catch (err) {
          failed(group, err, events[handledBefore(err)]);
          throw err;
        }
        if (failing.size > 0) for (const e of events) recovered(group, e);
      };
    },
  };
}

/** Applies `apply` to each event in order, with no await in between; a throw at i says i were handled. */
export function each<E extends Event>(events: readonly Recorded<E>[], apply: (e: Recorded<E>) => void): void {
  for (let i = 0; i < events.length; i++) {
    try {
      apply(events[i]!);
    } catch (err) {
      throw batchFailure(i, err);
    }
  }
}
