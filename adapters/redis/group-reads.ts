import type { RedisClient } from './connection.ts';
import { asEntries, type keysOf, type RawEntry } from './scripts.ts';

// The multi-key side of a group reader (consumer.ts): replies and acks sorted by stream key.

/** One stream key with its companions (its dead-letter stream). */
export type Lane = ReturnType<typeof keysOf>;

export interface Delivery {
  readonly lane: Lane;
  readonly entry: RawEntry;
  /** Times Redis handed this entry out (XPENDING), this delivery included. */
  readonly deliveries: number;
}

/** Entries read again (own pending, claimed), with how often each was delivered (XPENDING over their range). */
export async function withCounts(conn: RedisClient, group: string, consumer: string, lane: Lane, entries: RawEntry[]): Promise<Delivery[]> {
  if (entries.length === 0) return [];
  const first = entries[0]![0];
  const last = entries[entries.length - 1]![0];
  const pending = (await conn.call('XPENDING', lane.stream, group, first, last, entries.length + 10, consumer)) as [string, string, number, number][];
  const counts = new Map(pending.map(([id, , , n]) => [id, Number(n)]));
  return entries.map((entry) => ({ lane, entry, deliveries: counts.get(entry[0]) ?? 1 }));
}

/** Entry ids to acknowledge, per stream key (one XACK per key), in the order they were handled. */
export function idsByKey() {
  const byKey = new Map<string, string[]>();
  return {
    add(key: string, id: string) {
      const ids = byKey.get(key);
      if (ids) ids.push(id);
      else byKey.set(key, [id]);
    },
    /** Everything gathered, emptied. */
    take(): [string, string[]][] {
      const all = [...byKey];
      byKey.clear();
      return all;
    },
  };
}

/**
 * XACK over several stream keys in one call. KEYS: the streams; ARGV: group, then each key's id
 * count, then the ids key by key. Sent with EVAL, not EVALSHA: nothing to reload after a restart or
 * SCRIPT FLUSH (Redis caches it by its hash all the same). Only a reader of several keys sends it,
 * and that is one server only (consumer.ts), where a script may name keys of any slot.
 */
const ACK_LUA = `local at, acked = #KEYS + 2, 0
for i = 1, #KEYS do
  local n = tonumber(ARGV[i + 1])
  acked = acked + redis.call('XACK', KEYS[i], ARGV[1], unpack(ARGV, at, at + n - 1))
  at = at + n
end
return acked`;

/**
 * The one command acknowledging what `owing` holds (ids per key): a plain XACK for one key, the
 * script above for several, so a batch spanning shards costs one command, not one per shard.
 */
export function ackCommand(group: string, owing: readonly [string, readonly string[]][]): [name: string, args: (string | number)[]] {
  if (owing.length === 1) return ['XACK', [owing[0]![0], group, ...owing[0]![1]]];
  const args: (string | number)[] = [ACK_LUA, owing.length];
  for (const [key] of owing) args.push(key);
  args.push(group);
  for (const [, ids] of owing) args.push(ids.length);
  for (const [, ids] of owing) for (const id of ids) args.push(id);
  return ['EVAL', args];
}

/** An XREADGROUP reply (RESP2: [[key, entries], …], or null on timeout) by stream key. */
export function entriesByKey(reply: unknown): Map<string, RawEntry[]> {
  const byKey = new Map<string, RawEntry[]>();
  if (Array.isArray(reply)) for (const [key, entries] of reply as [string, unknown][]) byKey.set(String(key), asEntries(entries));
  return byKey;
}

export async function createGroup(conn: RedisClient, key: string, group: string, from: 'start' | 'end'): Promise<void> {
  try {
    await conn.call('XGROUP', 'CREATE', key, group, from === 'end' ? '$' : '0', 'MKSTREAM');
  } catch (err) {
    if (!/BUSYGROUP/.test(String(err))) throw err;
  }
}
