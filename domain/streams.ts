import type { DriverEvent } from './driver/index.ts';
import type { Event } from './ports/event-log.ts';
import type { RideEvent } from './ride/events.ts';
import type { LocationEvent } from './tracking/events.ts';

/**
 * A stream of the log and what it carries. Adapters read these properties instead of comparing
 * stream names; the event type `E` is what the typed port (ports/event-log.ts) hands subscribers
 * and accepts from writers, so no caller casts what it reads.
 */
export interface StreamDescriptor<N extends string = string, E extends Event = Event> {
  readonly name: N;
  /**
   * Entity histories are kept: `readKey` answers, versions count 1, 2, … and `expectedVersion`
   * is checked. False for a high-volume stream of facts nobody folds (GPS points): version 0.
   */
  readonly keepsHistory: boolean;
  /**
   * Split by key where the transport can (Redis: `LOCATION_SHARDS` keys with their own hash tags;
   * Kafka: partitions), so a cluster spreads its load. Order is kept per key, not across keys.
   */
  readonly sharded: boolean;
  /** Long-lived (ride lifecycle) or short (GPS): the transport's default retention follows it. */
  readonly retention: 'long' | 'short';
  /** Type only: the events this stream carries (never set). */
  readonly events?: E;
}

const describe =
  <E extends Event>() =>
  <N extends string>(d: Omit<StreamDescriptor<N, E>, 'events'>): StreamDescriptor<N, E> =>
    d;

/** The three streams of the log (ARCHITECTURE.md "Streams"). */
export const streams = {
  /** The ride lifecycle, keyed by rideId. */
  rides: describe<RideEvent>()({ name: 'rides', keepsHistory: true, sharded: false, retention: 'long' }),
  /** Driver availability, holds and assignments, keyed by driverId. */
  drivers: describe<DriverEvent>()({ name: 'drivers', keepsHistory: true, sharded: false, retention: 'long' }),
  /** GPS points and zone crossings, keyed by driverId: high volume, short retention. */
  'driver-locations': describe<LocationEvent>()({ name: 'driver-locations', keepsHistory: false, sharded: true, retention: 'short' }),
} as const;

export type Streams = typeof streams;
export type StreamName = keyof Streams;
export const STREAMS: readonly StreamName[] = Object.keys(streams) as StreamName[];

/** The events a stream carries. */
export type EventsOf<S extends StreamName> = Streams[S] extends StreamDescriptor<string, infer E> ? E : never;

/** A stream as callers name it: its descriptor (`streams.rides`) or its name (`'rides'`). */
export type StreamRef<S extends StreamName = StreamName> = S | { readonly name: S };

/** The descriptor of a stream named either way. */
export const descriptorOf = <S extends StreamName>(ref: StreamRef<S>): Streams[S] => streams[typeof ref === 'string' ? ref : ref.name];

/** True for a name of one of the log's streams (dead-letter ids, operator input). */
export const isStreamName = (name: string): name is StreamName => Object.hasOwn(streams, name);
