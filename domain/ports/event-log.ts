import { descriptorOf, type EventsOf, type StreamDescriptor, type StreamName, type StreamRef } from '../streams.ts';

/** The three streams of the log and what each carries: ../streams.ts. */
export { STREAMS, isStreamName, streams, type EventsOf, type StreamDescriptor, type StreamName, type StreamRef } from '../streams.ts';

/** An event as the domain decides it: readonly data, past tense. */
export interface Event<T extends string = string, D = unknown> {
  readonly type: T;
  readonly data: D;
}

export interface EventMetadata {
  /** Unique across streams and stable: `<stream>:<position>`. What clients see and send back as `after`. */
  readonly eventId: string;
  readonly stream: StreamName;
  /** The stream position, opaque but ordered within the stream; `read({after})` takes it. */
  readonly position: string;
  /** The partition key: the entity (ride or driver) the event belongs to. */
  readonly key: string;
  /** The entity's version after this event (1, 2, …); 0 on streams that keep no entity history. */
  readonly version: number;
  /** When the log recorded it (server time, epoch ms). */
  readonly recordedAtMs: number;
}

export type Recorded<E extends Event = Event> = E & { readonly metadata: EventMetadata };

export interface AppendOptions {
  /**
   * Optimistic concurrency: the entity's version the caller decided on (0 for a new entity).
   * If the entity has moved on, the append fails with DomainError `VERSION_CONFLICT` and writes nothing.
   * Omitted: no check, and the stream need not keep an entity history (GPS points).
   */
  readonly expectedVersion?: number;
}

export interface ReadOptions {
  /** Read strictly after this position; omitted reads from the oldest retained event. */
  readonly after?: string;
  readonly limit?: number;
}

export interface SubscribeOptions<E extends Event = Event> {
  /** Work-sharing group: each event goes to one member; every group sees every event. */
  readonly group: string;
  /** This member's name within the group (stable across restarts to resume its own pending events). */
  readonly consumer: string;
  /** Where a group that does not exist yet starts. Default `start`. */
  readonly from?: 'start' | 'end';
  /**
   * The group is this member's alone (an instance's live push and in-process projections, named after
   * its INSTANCE_ID): it starts over from `from` at every subscribe, even if a crash left it behind,
   * and is removed when the subscription closes gracefully, so restarts do not pile up groups.
   */
  readonly ephemeral?: boolean;
  /**
   * Called once per event, in order per key. The event is acknowledged only after the promise resolves;
   * a rejection leaves it pending for redelivery (at-least-once), so handlers must be idempotent.
   * A rejection is classified (domain/failures.ts): a transient one (a backend refused the write) is
   * retried with capped exponential backoff until it succeeds, however long that takes; a permanent
   * one (undecodable, a broken invariant) is retried up to the log's delivery limit, then the event is
   * set aside as a dead letter and the member moves on.
   * Give this or `batchHandler`.
   */
  readonly handler?: (event: Recorded<E>) => Promise<void>;
  /**
   * Called with what one read returned (log order, so order per key kept), acknowledged as a whole
   * after the promise resolves: one acknowledgement per batch, not per event. A rejection made by
   * `batchFailure(handled, cause)` acknowledges the first `handled` events and redelivers the rest;
   * any other rejection redelivers the whole batch. Idempotent, as `handler`.
   */
  readonly batchHandler?: (events: readonly Recorded<E>[]) => Promise<void>;
}

/** A batch handler's rejection: the first `handled` events of the batch are done, the rest are not. */
export type BatchFailure = Error & { readonly handled: number };

export function batchFailure(handled: number, cause: unknown): BatchFailure {
  const message = cause instanceof Error ? cause.message : String(cause);
  return Object.assign(new Error(message, { cause }), { handled });
}

/** How many events of a batch a batch handler's rejection says were handled (0 when it says nothing). */
export function handledBefore(err: unknown): number {
  const n = (err as { handled?: unknown } | null)?.handled;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 0;
}

/** The subscriber's handler as a batch handler: `handler` is called per event, in order, until one fails. */
export function batchHandlerOf<E extends Event>(options: Pick<SubscribeOptions<E>, 'handler' | 'batchHandler'>): (events: readonly Recorded<E>[]) => Promise<void> {
  if (options.batchHandler) return options.batchHandler;
  const handler = options.handler;
  if (!handler) throw new Error('subscribe needs a handler or a batchHandler');
  return async (events) => {
    for (let i = 0; i < events.length; i++) {
      try {
        await handler(events[i]!);
      } catch (err) {
        throw i === 0 ? err : batchFailure(i, err);
      }
    }
  };
}

export interface Subscription {
  /** Stops reading; the in-flight handler finishes and is acknowledged first. */
  close(): Promise<void>;
  /**
   * Stops at once, as a crash would: what this member was handed and did not acknowledge is
   * redelivered to another member of the group (Redis: XAUTOCLAIM; Kafka: rebalance).
   */
  abort(): Promise<void>;
}

/** An event a consumer group gave up on: it failed for good (see SubscribeOptions.handler). */
export interface DeadLetter {
  /** What `replayDeadLetter` takes: `<stream>/<position in the dead-letter store>`. */
  readonly id: string;
  readonly stream: StreamName;
  /** The group whose handler gave up. */
  readonly group: string;
  /** The event as recorded; null when it could not be decoded. */
  readonly event: Recorded | null;
  /** Why: the last error's message. */
  readonly error: string;
  /** Deliveries made before giving up. */
  readonly deliveries: number;
  /** When it was set aside (epoch ms). */
  readonly deadAtMs: number;
}

/**
 * The event log port: one interface, proven by one contract suite against every adapter. Typed by
 * stream: `subscribe(streams.rides, …)` hands handlers `Recorded<RideEvent>`, and `append` takes
 * only the events the stream carries. A stream may be named by its descriptor or its name.
 */
export interface EventLog {
  /** Appends atomically; all events share `key`. Returns them as recorded, in order. */
  append<S extends StreamName>(stream: StreamRef<S>, key: string, events: readonly EventsOf<S>[], options?: AppendOptions): Promise<Recorded<EventsOf<S>>[]>;
  /** One entity's whole history (streams that keep histories), oldest first. */
  readKey<S extends StreamName>(stream: StreamRef<S>, key: string): Promise<Recorded<EventsOf<S>>[]>;
  /** A slice of the stream in log order: replay, resume, projection rebuild. */
  read<S extends StreamName>(stream: StreamRef<S>, options?: ReadOptions): Promise<Recorded<EventsOf<S>>[]>;
  /** Joins a consumer group and starts delivering. */
  subscribe<S extends StreamName>(stream: StreamRef<S>, options: SubscribeOptions<EventsOf<S>>): Promise<Subscription>;
  /**
   * Dead letters of a stream, oldest first (operator tooling: `npm run dead-letters`). Optional:
   * adapters that keep dead letters where they cannot be listed (Kafka's `.dead` topics) leave it out.
   */
  deadLetters?(stream: StreamRef, options?: { limit?: number }): Promise<DeadLetter[]>;
  /**
   * Hands a dead letter back to its consumers (once the cause is fixed) and removes it from the
   * dead letters; false when there is no such dead letter. The event keeps its position, version and
   * eventId; handlers are idempotent, so a group that had applied it already skips it.
   */
  replayDeadLetter?(id: string): Promise<boolean>;
  /** True when the backing transport answers (readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * What an adapter implements: the log over stream descriptors, events as stored. The store holds
 * JSON and cannot know a type; `typedEventLog` gives it the port's types in this one place, where the
 * descriptor vouches for what its stream carries (every writer went through the typed `append`).
 */
/** A stream as an adapter sees it: its descriptor. */
type Stream = StreamDescriptor<StreamName>;

export interface EventLogBackend {
  append(stream: Stream, key: string, events: readonly Event[], options?: AppendOptions): Promise<Recorded[]>;
  readKey(stream: Stream, key: string): Promise<Recorded[]>;
  read(stream: Stream, options?: ReadOptions): Promise<Recorded[]>;
  subscribe(stream: Stream, options: SubscribeOptions): Promise<Subscription>;
  deadLetters?(stream: Stream, options?: { limit?: number }): Promise<DeadLetter[]>;
  replayDeadLetter?(id: string): Promise<boolean>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

type Optional = 'deadLetters' | 'replayDeadLetter';
/** The typed log of a backend: its extra members kept, its optional ones present when it has them. */
export type TypedEventLog<B extends EventLogBackend> = Omit<B, keyof EventLogBackend> &
  Omit<EventLog, Optional> & { [K in Optional as undefined extends B[K] ? never : K]-?: NonNullable<EventLog[K]> } & Partial<Pick<EventLog, Optional>>;

/** The backend as the typed port: names resolved to descriptors, events typed by their stream. */
export function typedEventLog<B extends EventLogBackend>(backend: B): TypedEventLog<B> {
  const { deadLetters } = backend;
  const log = {
    ...backend,
    append: (stream: StreamRef, key: string, events: readonly Event[], options?: AppendOptions) => backend.append(descriptorOf(stream), key, events, options),
    readKey: (stream: StreamRef, key: string) => backend.readKey(descriptorOf(stream), key),
    read: (stream: StreamRef, options?: ReadOptions) => backend.read(descriptorOf(stream), options),
    subscribe: (stream: StreamRef, options: SubscribeOptions) => backend.subscribe(descriptorOf(stream), options),
    ...(deadLetters && { deadLetters: (stream: StreamRef, options?: { limit?: number }) => deadLetters(descriptorOf(stream), options) }),
  };
  return log as unknown as TypedEventLog<B>;
}

export const eventIdOf = (stream: StreamName, position: string) => `${stream}:${position}`;
