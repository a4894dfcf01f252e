import { DomainError, versionConflict } from '../../domain/errors.ts';
import { makeEntries, type Entries } from './entries.ts';
import { deliverQueued, newMember, type Member } from './member.ts';
import {
  eventIdOf,
  type DeadLetter,
  type EventLogBackend,
  type Recorded,
  type StreamDescriptor,
  type StreamName,
  type Subscription,
  typedEventLog,
} from '../../domain/ports/event-log.ts';
import { systemClock, type Clock } from '../../domain/ports/clock.ts';

export interface InMemoryEventLogOptions {
  /** Keep at most this many events per stream (oldest dropped first). Entity histories are kept whole. */
  readonly maxLength?: Partial<Record<StreamName, number>>;
  /** Deliveries of one event whose handler fails for good before it is set aside as a dead letter. */
  readonly maxDeliveries?: number;
  /** Backoff between deliveries: retryDelayMs × 2^(attempt-1), at most maxRetryDelayMs. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** Stamps `recordedAtMs` and dead letters. */
  readonly clock?: Clock;
}

interface Group {
  /** Next stream index not yet handed to any member. */
  cursor: number;
  /** Handed out but not acknowledged when their member went away: delivered again first. */
  readonly returned: number[];
  readonly members: Member[];
}

interface StreamState {
  readonly entries: Entries; // positions are 1-based indexes into these
  readonly byKey: Map<string, Recorded[]>;
  readonly groups: Map<string, Group>;
  /**
   * The events of the latest HOT appends as append built them, by index mod HOT: every group's
   * delivery of a fresh event hands over that one object instead of building a Recorded per group
   * (entries.ts keeps events as columns, for the heap). Older ones (a replay, a slow group) are built.
   */
  readonly hot: (Recorded | undefined)[];
  readonly hotIndex: Float64Array;
}

/** Fresh events kept as objects per stream (a power of two): well past what groups lag by in a turn. */
const HOT = 1_024;

/**
 * The embedded event log: everything in process memory. Positions are 1-based counters per stream.
 * Within a group an entity's events always go to the same member (hash of the key), which keeps
 * per-key order the way Kafka partitions and Redis single readers do.
 */
export function getInMemoryEventLog(options: InMemoryEventLogOptions = {}) {
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const maxDeliveries = options.maxDeliveries ?? 5;
  const policy = { maxDeliveries, backoff: { baseMs: options.retryDelayMs ?? 50, maxMs: options.maxRetryDelayMs ?? 5_000 } };
  const streams = new Map<string, StreamState>();
  /** Dead letters by id, in the order they died; each remembers its group to hand the event back to. */
  const dead = new Map<string, DeadLetter & { index: number }>();
  let deadSeq = 0;
  let closed = false;

  const streamOf = ({ name }: Pick<StreamDescriptor, 'name'>): StreamState => {
    let s = streams.get(name);
    if (!s) streams.set(name, (s = { entries: makeEntries(name as StreamName), byKey: new Map(), groups: new Map(), hot: new Array(HOT), hotIndex: new Float64Array(HOT) }));
    return s;
  };

  /** The retained event at `index`: the object its append built while it is fresh, else built from the columns. */
  const eventAt = (s: StreamState, index: number): Recorded | undefined => {
    if (!s.entries.retained(index)) return undefined;
    const slot = index & (HOT - 1);
    return s.hotIndex[slot] === index ? s.hot[slot] : s.entries.at(index);
  };

  /** Retention: the oldest entries beyond maxLength go. */
  function trim(stream: StreamDescriptor<StreamName>, s: StreamState): void {
    const max = options.maxLength?.[stream.name];
    if (max) s.entries.trim(max);
  }

  function pump(s: StreamState, group: Group): void {
    // Members leave the list as they close; only a closed log leaves closed ones in it.
    const live = closed ? group.members.filter((m) => !m.closed) : group.members;
    if (live.length === 0) return;
    while (group.returned.length > 0 || group.cursor < s.entries.end()) {
      const index = group.returned.length > 0 ? group.returned.shift()! : group.cursor++;
      if (!s.entries.retained(index)) continue; // trimmed by retention before its turn
      (live.length === 1 ? live[0]! : live[hashKey(s.entries.keyAt(index)) % live.length]!).queue.push(index);
    }
    for (const m of live) void drain(s, group, m);
  }

  async function drain(s: StreamState, group: Group, member: Member): Promise<void> {
    if (member.busy) return;
    member.busy = true;
    let sinceTurn = 0; // events handed over since the event loop last had a turn
    try {
      while (!member.closed && member.queue.length > 0) {
        // What is pending for this member now is one batch: its events in log order, so per key too.
        member.inFlight = Math.min(member.queue.length, MAX_BATCH);
        sinceTurn += member.inFlight;
        member.current = deliverQueued(member, member.inFlight);
        await member.current;
        member.current = null;
        member.inFlight = 0;
        if (member.stopping) break;
        // A backlog (a replay at start, a burst after a pause) is handed over MAX_BATCH events per turn
        // of the event loop, so requests and socket writes are not held behind it. Below that nothing
        // waits: a reaction's few events are delivered within the turn that appended them, as before.
        if (member.queue.length > 0 && sinceTurn >= MAX_BATCH) {
          await new Promise<void>((r) => setImmediate(r));
          sinceTurn = 0;
        }
      }
    } finally {
      member.busy = false;
      member.inFlight = 0;
    }
  }

  function groupName(group: Group): string {
    for (const s of streams.values()) for (const [name, g] of s.groups) if (g === group) return name;
    return '?';
  }

  function leave(s: StreamState, group: Group, member: Member): void {
    member.closed = true;
    group.members.splice(group.members.indexOf(member), 1);
    // No spread: a member's queue may hold a whole replay, more than a call may take as arguments.
    for (const i of member.queue.splice(0)) group.returned.push(i);
    group.returned.sort((a, b) => a - b);
    pump(s, group);
  }

  const backend: EventLogBackend & Required<Pick<EventLogBackend, 'deadLetters' | 'replayDeadLetter'>> = {
    async deadLetters(stream, { limit = Infinity } = {}) {
      return [...dead.values()].filter((d) => d.stream === stream.name).slice(0, limit).map(({ index: _index, ...d }) => d);
    },

    async replayDeadLetter(id) {
      const d = dead.get(id);
      if (!d) return false;
      dead.delete(id);
      const s = streamOf({ name: d.stream });
      const group = s.groups.get(d.group);
      // Straight back to the group that gave up on it: the others applied it already.
      if (group) {
        group.returned.push(d.index);
        group.returned.sort((a, b) => a - b);
        pump(s, group);
      }
      return true;
    },

    async append(stream, key, events, { expectedVersion } = {}) {
      if (closed) throw new DomainError('LOG_CLOSED', 503, 'the event log is closed');
      const s = streamOf(stream);
      // Only entity streams keep a history per key (and are appended to with an expected version).
      const history = stream.keepsHistory || expectedVersion !== undefined ? (s.byKey.get(key) ?? NO_HISTORY) : NO_HISTORY;
      if (expectedVersion !== undefined && expectedVersion !== history.length)
        throw versionConflict(stream.name, key, expectedVersion, history.length);
      const recordedAtMs = now();
      const recorded: Recorded[] = new Array(events.length);
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        const version = stream.keepsHistory ? history.length + i + 1 : 0;
        const index = s.entries.push(e.type, e.data, key, version, recordedAtMs);
        const position = String(index);
        const r = { type: e.type, data: e.data, metadata: { eventId: eventIdOf(stream.name, position), stream: stream.name, position, key, version, recordedAtMs } } as Recorded;
        recorded[i] = r;
        s.hot[index & (HOT - 1)] = r;
        s.hotIndex[index & (HOT - 1)] = index;
      }
      // In place (readKey hands out copies): appending to a long history does not copy it.
      if (stream.keepsHistory) {
        if (history.length === 0) s.byKey.set(key, [...recorded]);
        else for (const r of recorded) (history as Recorded[]).push(r);
      }
      trim(stream, s);
      for (const group of s.groups.values()) pump(s, group);
      return recorded;
    },

    async readKey(stream, key) {
      return [...(streamOf(stream).byKey.get(key) ?? [])];
    },

    async read(stream, { after, limit = Infinity } = {}) {
      const s = streamOf(stream);
      const out: Recorded[] = [];
      for (let i = Math.max(s.entries.first(), after === undefined ? 0 : Number(after) + 1); i < s.entries.end() && out.length < limit; i++)
        out.push(s.entries.at(i)!);
      return out;
    },

    async subscribe(stream, subscribeOptions): Promise<Subscription> {
      const s = streamOf(stream);
      let group = s.groups.get(subscribeOptions.group);
      if (!group) {
        group = { cursor: subscribeOptions.from === 'end' ? s.entries.end() : s.entries.first(), returned: [], members: [] };
        s.groups.set(subscribeOptions.group, group);
      }
      const g = group;
      const member = newMember(subscribeOptions, policy, (index) => eventAt(s, index), (event, index, error, deliveries) => {
        const id = `${event.metadata.stream}/${++deadSeq}`;
        dead.set(id, { id, stream: event.metadata.stream, group: groupName(g), event, error, deliveries, deadAtMs: now(), index });
      });
      // A new member takes its share of what is queued for the others: rebalance, as Kafka would.
      for (const m of g.members) for (const i of m.queue.splice(m.inFlight)) g.returned.push(i);
      g.returned.sort((a, b) => a - b);
      g.members.push(member);
      pump(s, g);
      return {
        async close() {
          // Let the in-flight handler finish and acknowledge; the rest goes back to the group.
          member.stopping = true;
          while (member.current) await member.current;
          if (!member.closed) leave(s, g, member);
          // An ephemeral group is nobody's once its member is gone gracefully.
          if (subscribeOptions.ephemeral && g.members.length === 0 && s.groups.get(subscribeOptions.group) === g) s.groups.delete(subscribeOptions.group);
        },
        async abort() {
          if (!member.closed) leave(s, g, member);
        },
      };
    },

    async ping() {
      return !closed;
    },

    async close() {
      closed = true;
      for (const s of streams.values()) for (const g of s.groups.values()) for (const m of [...g.members]) m.closed = true;
    },
  };
  return typedEventLog(backend);
}

/**
 * At most this many events per batch: bounds how long one handler call holds the event loop (about
 * 100 µs an event for the tracker and push: a 256-event batch is a turn of a few tens of ms at most).
 */
const MAX_BATCH = 256;

/** A key's history while it has none (read only: a first append stores a new array). */
const NO_HISTORY: readonly Recorded[] = [];

/** FNV-1a: a cheap, stable hash so one key always maps to the same member. */
function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
