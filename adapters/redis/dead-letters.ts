import { isStreamName, streams, type DeadLetter, type Recorded, type StreamDescriptor, type StreamName } from '../../domain/ports/event-log.ts';
import type { RedisClient } from './connection.ts';
import type { StreamLayout } from './layout.ts';
import { EVENT_FIELD, LEGACY_FIELDS, asEntries, compareIds, fieldsOf, fromEntry } from './scripts.ts';

export const STREAM_ID = /^\d+-\d+$/;

/**
 * Dead letters on Redis: each stream key has a `:dead` stream beside it (same hash slot), where a
 * group's reader sets aside what it gave up on (./consumer.ts). Listing merges a sharded stream's
 * shards by id; replaying puts the entry back on its stream for its group only.
 */
export function redisDeadLetters(main: RedisClient, layout: StreamLayout) {
  return {
    async deadLetters(stream: StreamDescriptor<StreamName>, { limit }: { limit?: number } = {}): Promise<DeadLetter[]> {
      const count = limit !== undefined && Number.isFinite(limit) ? ['COUNT', Math.max(1, Math.floor(limit))] : [];
      const replies = await Promise.all(layout.allKeys(stream).map((k) => main.call('XRANGE', k.dead, '-', '+', ...count)));
      const entries = replies.flatMap((r) => asEntries(r)).sort((x, y) => compareIds(x[0], y[0]));
      const out = entries.flatMap(([id, fields]) => (fields ? [deadLetterOf(stream.name, id, fields)] : []));
      return limit !== undefined && Number.isFinite(limit) ? out.slice(0, Math.max(1, Math.floor(limit))) : out;
    },

    async replayDeadLetter(id: string): Promise<boolean> {
      const [stream, deadId] = splitDeadLetterId(id);
      if (!stream) return false;
      // On a sharded stream the letter sits on one shard's dead stream: the first that has the id.
      let found: { keys: ReturnType<StreamLayout['allKeys']>[number]; fields: string[] } | null = null;
      for (const keys of layout.allKeys(streams[stream])) {
        const [[, fields] = ['', null]] = asEntries(await main.call('XRANGE', keys.dead, deadId, deadId));
        if (fields) {
          found = { keys, fields };
          break;
        }
      }
      if (!found) return false;
      const f = fieldsOf(found.fields);
      const original = [EVENT_FIELD, ...LEGACY_FIELDS].flatMap((name) => (f[name] === undefined ? [] : [name, f[name]!]));
      // Back on the stream for its group only, and off the dead letters, in one MULTI (one hash slot).
      const replies = await main
        .multi()
        .call('XADD', found.keys.stream, '*', ...original, 'replayOf', f['originalId'] ?? deadId, 'replayFor', f['group'] ?? '')
        .call('XDEL', found.keys.dead, deadId)
        .exec();
      for (const [err] of replies ?? []) if (err) throw err;
      return true;
    },
  };
}

/** A `:dead` stream entry: the original entry's fields plus who gave up on it, when, and why. */
function deadLetterOf(stream: StreamName, deadId: string, fields: string[]): DeadLetter {
  const f = fieldsOf(fields);
  let event: Recorded | null = null;
  try {
    event = fromEntry(stream, f['originalId'] ?? deadId, fields);
  } catch {
    // undecodable: listed without its event
  }
  return {
    id: `${stream}/${deadId}`,
    stream,
    group: f['group'] ?? '',
    event,
    error: f['error'] ?? '',
    deliveries: Number(f['deliveries'] ?? 0),
    deadAtMs: Number(deadId.split('-')[0]),
  };
}

function splitDeadLetterId(id: string): [StreamName | null, string] {
  const slash = id.indexOf('/');
  const stream = id.slice(0, slash);
  const deadId = id.slice(slash + 1);
  return slash > 0 && isStreamName(stream) && STREAM_ID.test(deadId) ? [stream, deadId] : [null, ''];
}
