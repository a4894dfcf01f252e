import { eventIdOf, type Event, type Recorded, type StreamName } from '../../domain/ports/event-log.ts';

/** A record's value: plain JSON, so `kcat -C -t rides` shows events a person can read. */
interface StoredEvent {
  readonly type: string;
  readonly data: unknown;
  readonly key: string;
  readonly version: number;
  readonly recordedAtMs: number;
}

/** The slice of a kafkajs message the codec reads (KafkaMessage, loosely, so tests can build one). */
export interface RawMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: string;
}

/** A stream position: `<partition>-<offset>`, ordered within a partition. */
export const positionOf = (partition: number, offset: number) => `${partition}-${offset}`;

const POSITION = /^(\d{1,9})-(\d{1,15})$/;

export function parsePosition(position: string): { partition: number; offset: number } | null {
  const m = POSITION.exec(position);
  return m ? { partition: Number(m[1]), offset: Number(m[2]) } : null;
}

export function encodeEvent(event: Event, key: string, version: number, recordedAtMs: number): string {
  const stored: StoredEvent = { type: event.type, data: event.data, key, version, recordedAtMs };
  return JSON.stringify(stored);
}

export function recordedFrom(stream: StreamName, partition: number, offset: number, stored: StoredEvent): Recorded {
  const position = positionOf(partition, offset);
  return {
    type: stored.type,
    data: stored.data,
    metadata: { eventId: eventIdOf(stream, position), stream, position, key: stored.key, version: stored.version, recordedAtMs: stored.recordedAtMs },
  };
}

/**
 * Reads a record back as an event. Null for a value that is not one of ours (someone wrote to the
 * topic by hand): readers skip it rather than stall the partition on it.
 */
export function decodeMessage(stream: StreamName, partition: number, message: RawMessage): Recorded | null {
  if (!message.value) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.value.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const v = parsed as Partial<StoredEvent>;
  if (typeof v.type !== 'string') return null;
  return recordedFrom(stream, partition, Number(message.offset), {
    type: v.type,
    data: v.data,
    key: typeof v.key === 'string' ? v.key : (message.key?.toString('utf8') ?? ''),
    version: typeof v.version === 'number' ? v.version : 0,
    recordedAtMs: typeof v.recordedAtMs === 'number' ? v.recordedAtMs : Number(message.timestamp),
  });
}
