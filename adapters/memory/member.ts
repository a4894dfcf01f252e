import type { Backoff } from '../../domain/failures.ts';
import { batchHandlerOf, type Recorded, type SubscribeOptions } from '../../domain/ports/event-log.ts';
import { deliverBatch, retryInPlace, type BatchSteps } from '../shared/batch-delivery.ts';

/** One subscriber of a consumer group of the embedded log (event-log.ts), and how a batch is handed to it. */
export interface Member {
  readonly consumer: string;
  /** Stream indexes handed to this member, oldest first; the head `inFlight` are the running batch. */
  readonly queue: number[];
  busy: boolean;
  closed: boolean;
  /** Graceful close asked: finish the current event, then leave. */
  stopping: boolean;
  /** The batch running now, so a graceful close can wait for it. */
  current: Promise<void> | null;
  /** How many entries at the head of `queue` the running batch holds (they stay there until acked). */
  inFlight: number;
  readonly options: SubscribeOptions;
  /** The subscriber's handler as a batch handler: called with what is pending for this member. */
  readonly handle: (events: readonly Recorded[]) => Promise<void>;
  /** The batch being delivered (one at a time per member): reused, so a delivery builds no closures. */
  readonly batch: Batch;
  /** How deliverBatch drives this member's batches: made once per member, not once per batch. */
  readonly steps: BatchSteps;
  /** The retained event at a stream index (undefined: trimmed by retention before its turn). */
  readonly eventAt: (index: number) => Recorded | undefined;
}

interface Batch {
  /** The events handed over. */
  events: Recorded[];
  /** Queue position of each event, or null when none was trimmed (event i is at position i). */
  positions: number[] | null;
  /** Queue entries the batch covers, trimmed ones included. */
  n: number;
  /** Queue entries acknowledged so far (dropped from the head of the queue). */
  acked: number;
}

export interface RetryPolicy {
  readonly maxDeliveries: number;
  readonly backoff: Backoff;
}

/** Sets an event that failed for good aside, with its stream index (to hand it back to the group). */
export type DeadLetterSink = (event: Recorded, index: number, error: string, deliveries: number) => void;

export function newMember(options: SubscribeOptions, policy: RetryPolicy, eventAt: Member['eventAt'], deadLetter: DeadLetterSink): Member {
  const handle = batchHandlerOf(options);
  const member: Member = {
    consumer: options.consumer, queue: [], busy: false, closed: false, stopping: false, current: null, inFlight: 0, options,
    handle, batch: { events: [], positions: null, n: 0, acked: 0 }, eventAt,
    // The steps read the member when a batch runs, never before it exists.
    steps: stepsOf(() => member, handle, policy, deadLetter),
  };
  return member;
}

/**
 * Hands the first `n` queued entries to the handler as one batch. Acknowledging is dropping them from
 * the head of the queue (an aborted member's queue goes back to the group). A failure at event i
 * (`batchFailure(i, err)`) acks what came before i, retries i in place under the policy, then goes on.
 */
export async function deliverQueued(member: Member, n: number): Promise<void> {
  const b = member.batch;
  const events: Recorded[] = [];
  let positions: number[] | null = null;
  for (let pos = 0; pos < n; pos++) {
    const event = member.eventAt(member.queue[pos]!);
    if (event) {
      events.push(event);
      if (positions) positions.push(pos);
    } else if (!positions) positions = Array.from({ length: events.length }, (_, i) => i); // trimmed by retention before its turn
  }
  b.events = events;
  b.positions = positions;
  b.n = n;
  b.acked = 0;
  try {
    if (await deliverBatch(events, member.steps)) ack(member, n);
  } finally {
    b.events = [];
    b.positions = null;
  }
}

/** Drops the batch's queue entries up to `upTo` from the head of the member's queue: acknowledged. */
function ack(member: Member, upTo: number): void {
  const b = member.batch;
  if (member.closed || upTo <= b.acked) return;
  member.queue.splice(0, upTo - b.acked);
  member.inFlight -= upTo - b.acked;
  b.acked = upTo;
}

/** Queue position before which everything is done once the batch's first `i` events are. */
function positionAfter(b: Batch, i: number): number {
  if (i >= b.events.length) return b.n;
  return b.positions ? b.positions[i]! : i;
}

/** How deliverBatch acknowledges and retries for one member, whichever batch it is on. */
function stepsOf(self: () => Member, handle: Member['handle'], policy: RetryPolicy, deadLetter: DeadLetterSink): BatchSteps {
  const closedNow = () => self().closed;
  return {
    handler: handle,
    handled: (_from, to) => ack(self(), positionAfter(self().batch, to)),
    aborted: closedNow,
    retry: async (i, err) => {
      const member = self();
      const b = member.batch;
      const failed = b.events[i]!;
      const pos = positionAfter(b, i);
      const index = member.queue[pos - b.acked]!;
      const outcome = await retryInPlace(failed, err, 1, {
        handler: handle,
        maxDeliveries: policy.maxDeliveries,
        backoff: policy.backoff,
        pause: (ms) => new Promise<void>((r) => setTimeout(r, ms)),
        stopping: closedNow,
        aborted: closedNow,
        deadLetter: async (e, deliveries) => deadLetter(failed, index, e instanceof Error ? e.message : String(e), deliveries),
      });
      if (outcome !== 'stop') ack(member, pos + 1);
      return outcome;
    },
  };
}
