import { DomainError } from './errors.ts';

/**
 * What a failed event handler means for its event:
 *  - `transient`: a backend refused or could not take the work right now (out of memory, a READONLY
 *    replica after a failover, an ACL that refuses the write, a dropped connection, a timeout). The
 *    same event will succeed once the backend recovers: retry it, however long that takes.
 *  - `permanent`: the event can never succeed as it is (it cannot be decoded, or a rule refuses what
 *    it asks: an invariant is broken). Retrying changes nothing: set it aside as a dead letter.
 */
export type FailureKind = 'transient' | 'permanent';

/** An error a handler throws to say "this event can never succeed"; dead-lettered, never retried for ever. */
export class PermanentFailure extends Error {
  readonly permanent = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentFailure';
  }
}

/** Errors that say the code or the data is wrong, not the backend: the same event fails the same way. */
const BROKEN = new Set(['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'URIError']);

/**
 * Classifies a handler's failure. The rule errs towards `transient` for anything it does not know:
 * the errors backends raise (Redis replies, Mongo, Kafka, sockets) are many and change between
 * client versions, and a wrongly retried event costs a stalled consumer that a metric shows, while a
 * wrongly dead-lettered one silently loses a reaction (a driver left assigned for ever).
 */
export function classifyFailure(err: unknown, depth = 0): FailureKind {
  if (typeof err !== 'object' || err === null) return 'transient';
  const e = err as { permanent?: unknown; transient?: unknown; name?: unknown; cause?: unknown };
  if (e.permanent === true) return 'permanent';
  if (e.transient === true) return 'transient';
  if (err instanceof DomainError) {
    // A lost race (someone wrote first) or a backend the domain saw fail: try again. Any other
    // refusal is the decider saying the event asks for something its rules forbid.
    return err.code === 'VERSION_CONFLICT' || err.statusCode >= 500 ? 'transient' : 'permanent';
  }
  if (typeof e.name === 'string' && BROKEN.has(e.name)) return 'permanent';
  // A wrapper (a batch failure, a client's own error around the server's reply) is what it wraps.
  return e.cause !== undefined && depth < 5 ? classifyFailure(e.cause, depth + 1) : 'transient';
}

export interface Backoff {
  /** The first wait. */
  readonly baseMs: number;
  /** No wait is longer than this. */
  readonly maxMs: number;
}

/** Capped exponential backoff: the wait before retry number `attempt` (1, 2, …). */
export const backoffMs = (attempt: number, { baseMs, maxMs }: Backoff) => Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
