import { eventIdOf, type Recorded, type StreamName } from '../../domain/ports/event-log.ts';

/**
 * Key layout, Redis Cluster-ready. Every key of one stream carries the same hash tag `{<stream>}`,
 * so they all live in ONE hash slot:
 *   `${prefix}{rides}`           the stream (XADD/XRANGE/XREADGROUP)
 *   `${prefix}{rides}:v`         hash: entity key → current version
 *   `${prefix}{rides}:k:<key>`   list: the entity's history (one JSON document per event)
 *   `${prefix}{rides}:dead`      dead letters of the stream's consumer groups
 * Why: an append (version check + XADD + history + version bump) is one Lua script, and a script
 * (or MULTI) may only touch keys of one slot in a cluster. One slot per stream keeps each append
 * atomic; a cluster still spreads the three streams (rides, drivers, driver-locations) over nodes.
 * The prefix must not contain `{`, or it would become the hash tag.
 *
 * `driver-locations`, the high-volume stream, may be split into shards by driver (`shardOf`): shard
 * n is `${prefix}{driver-locations:n}` with the same companions, its own hash tag, so its own slot:
 * a cluster spreads GPS load over its masters instead of putting it all on one. A driver always
 * lands on the same shard, so the order of one driver's points holds. One shard keeps the
 * unsharded key `{driver-locations}`.
 */
export function keysOf(prefix: string, stream: StreamName, shard?: number) {
  const base = shard === undefined ? `${prefix}{${stream}}` : `${prefix}{${stream}:${shard}}`;
  return {
    stream: base,
    versions: `${base}:v`,
    history: (key: string) => `${base}:k:${key}`,
    dead: `${base}:dead`,
  };
}

/** The shard of an entity key: FNV-1a (32 bit) modulo the shard count, the same in every instance. */
export function shardOf(key: string, shards: number): number {
  if (shards <= 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/** Every stream key of a stream: one, or one per shard (`driver-locations` with shards > 1). */
export function shardKeysOf(prefix: string, stream: StreamName, shards: number): ReturnType<typeof keysOf>[] {
  if (stream !== 'driver-locations' || shards <= 1) return [keysOf(prefix, stream)];
  return Array.from({ length: shards }, (_, n) => keysOf(prefix, stream, n));
}

/** Stream ids (`ms-seq`) in order: by time, then sequence. */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/**
 * Lua prelude defining `xaddFacts(stream, shard, shards, maxlen, key, at, first, n)`: XADDs the n
 * (type, data) pairs ARGV[first], ARGV[first + 1], … to one GPS stream, trimming with the last; returns
 * the ids. With several shards the ids are made as described below (SHARD_APPEND_LUA); with one,
 * Redis makes them (`*`). Per script call, not per event or per driver: TIME is read once, and each
 * shard's last id once (later appends of the same call continue from the id they made last), so a
 * call appending for many drivers (the screening store's group commit, ./screening.ts) pays them once.
 * Shared by SHARD_APPEND_LUA and the screening store's compare-and-append.
 */
export const XADD_FACTS_LUA = `
local callMs = nil
local lastIds = {}
local function xaddFacts(stream, shard, shards, maxlen, key, at, first, n)
  local ms, seq = 0, shard
  if shards > 1 then
    if callMs == nil then
      local t = redis.call('TIME')
      callMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    ms = callMs
    local last = lastIds[stream]
    if last == nil then
      last = false
      local e = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
      if e then
        local dash = string.find(e[1], '-', 1, true)
        last = { tonumber(string.sub(e[1], 1, dash - 1)), tonumber(string.sub(e[1], dash + 1)) }
      end
    end
    if last and last[1] >= ms then
      ms = last[1]
      seq = last[2] - (last[2] % shards) + shards + shard
    end
  end
  local ids = {}
  -- The entry's one field (see entryValue): what follows the type is the same for every event of the call.
  local keyAt = ',' .. cjson.encode(key) .. ',0,' .. (string.find(at, '^%d+$') and at or cjson.encode(at)) .. ','
  for i = 1, n do
    local id = shards > 1 and string.format('%.0f-%.0f', ms, seq) or '*'
    local e = '[' .. cjson.encode(ARGV[first + 2 * i - 2]) .. keyAt .. ARGV[first + 2 * i - 1] .. ']'
    if maxlen ~= '' and i == n then
      ids[i] = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, id, 'event', e)
    else
      ids[i] = redis.call('XADD', stream, id, 'event', e)
    end
    seq = seq + shards
  end
  if shards > 1 and n > 0 then lastIds[stream] = { ms, seq - shards } end
  return ids
end`;

/**
 * GPS points on one shard of a sharded `driver-locations`. Each shard is its own stream, so ids that
 * Redis makes (`*`) could repeat across shards within one millisecond, and an eventId must name one
 * event. Ids are made here instead: `ms-seq` with seq ≡ shard (mod shards), after the shard's last
 * id, so they increase within a shard and never meet another shard's.
 * KEYS[1] the shard's stream; ARGV: shard, shards, maxlen ('' for none), key, recordedAtMs, then type, data pairs.
 */
export const SHARD_APPEND_LUA = `${XADD_FACTS_LUA}
return xaddFacts(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], 6, (#ARGV - 5) / 2)
`;

/**
 * KEYS: stream, versions hash, history list.
 * ARGV: entity key, expected version ('' = no check), MAXLEN ('' = keep all), keep history ('1'|'0'),
 *       then (type, data JSON) per event.
 * Returns { recordedAtMs, firstVersion, id1, id2, … } or the error `VERSION_CONFLICT <actual>`.
 * Entries get one field, `event`, whose value is readable JSON (see entryValue), so `redis-cli XRANGE` reads them.
 */
export const APPEND_LUA = `
local key = ARGV[1]
local current = tonumber(redis.call('HGET', KEYS[2], key) or '0')
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= current then
  return redis.error_reply('VERSION_CONFLICT ' .. current)
end
local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local out = { now, current + 1 }
local n = (#ARGV - 4) / 2
-- Per call, not per event: the trim goes with the last XADD only, the history is one RPUSH.
local history = {}
local jkey = ',' .. cjson.encode(key) .. ','
for i = 1, n do
  local etype = ARGV[3 + 2 * i]
  local data = ARGV[4 + 2 * i]
  local version = string.format('%d', current + i)
  -- The entry's one field (see entryValue).
  local e = '[' .. cjson.encode(etype) .. jkey .. version .. ',' .. now .. ',' .. data .. ']'
  local id
  if ARGV[3] ~= '' and i == n then
    id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'event', e)
  else
    id = redis.call('XADD', KEYS[1], '*', 'event', e)
  end
  if ARGV[4] == '1' then
    history[i] = cjson.encode({ id = id, type = etype, version = version, data = data, recordedAtMs = now })
  end
  out[#out + 1] = id
end
if #history > 0 then redis.call('RPUSH', KEYS[3], unpack(history)) end
redis.call('HSET', KEYS[2], key, string.format('%d', current + n))
return out
`;

/**
 * An entry's one field, `event`: JSON `[type, key, version, recordedAtMs, data]`, data's JSON as the
 * client wrote it. Why one field: a reader's RESP decoder pays per string (ioredis 6 made 11 strings
 * per entry of the five-field layout, and their garbage was a third of a rebuild's CPU); this entry
 * is 2 strings, and its JSON is parsed once. Entries written earlier (five fields: type, key, version,
 * data, recordedAtMs) stay in the log until trimmed and still decode (fromEntry reads both).
 */
export const EVENT_FIELD = 'event';

/** The value of the `event` field (the Lua scripts build the same text). */
export function entryValue(type: string, key: string, version: number, recordedAtMs: number, dataJson: string): string {
  return `[${JSON.stringify(type)},${JSON.stringify(key)},${version},${JSON.stringify(recordedAtMs)},${dataJson}]`;
}

/** The fields of the five-field layout written before the `event` field (read still; dead-letter replays copy them). */
export const LEGACY_FIELDS = ['type', 'key', 'version', 'data', 'recordedAtMs'] as const;

/**
 * Decodes a stream entry's flat field list ([f1, v1, f2, v2, …]) into a recorded event, in either
 * layout (`event`, or the earlier five fields). A replayed dead letter (fields `replayOf`,
 * `replayFor`) decodes as the original: same position and eventId.
 */
export function fromEntry(stream: StreamName, id: string, fields: readonly string[]): Recorded {
  // The entry as the adapter writes it, read in place: no object of fields per event (a replay decodes millions).
  if (fields.length === 2 && fields[0] === EVENT_FIELD) return fromEventValue(stream, id, fields[1]!);
  if (isLegacyPlainEntry(fields)) return recorded(stream, id, fields[1]!, fields[3]!, Number(fields[5]), JSON.parse(fields[7]!) as unknown, Number(fields[9]));
  const f = fieldsOf(fields);
  const position = f['replayOf'] ?? id;
  if (f[EVENT_FIELD] !== undefined) return fromEventValue(stream, position, f[EVENT_FIELD]);
  const data = f['data'] === undefined ? undefined : (JSON.parse(f['data']) as unknown);
  return recorded(stream, position, f['type'] ?? '', f['key'] ?? '', Number(f['version'] ?? 0), data, Number(f['recordedAtMs'] ?? position.split('-')[0]));
}

function fromEventValue(stream: StreamName, position: string, json: string): Recorded {
  const e = JSON.parse(json) as [type: string, key: string, version: number, recordedAtMs: number, data: unknown];
  if (!Array.isArray(e) || e.length !== 5) throw new Error(`not an event entry: ${json.slice(0, 80)}`);
  return recorded(stream, position, e[0], e[1], e[2], e[4], typeof e[3] === 'number' ? e[3] : Number(e[3]));
}

/** Exactly the fields the adapter writes (so not a replayed dead letter, which has more), in either layout. */
export function isPlainEntry(fields: readonly string[]): boolean {
  return (fields.length === 2 && fields[0] === EVENT_FIELD) || isLegacyPlainEntry(fields);
}

function isLegacyPlainEntry(fields: readonly string[]): boolean {
  return fields.length === 10 && fields[0] === 'type' && fields[2] === 'key' && fields[4] === 'version' && fields[6] === 'data' && fields[8] === 'recordedAtMs';
}

export function fieldsOf(fields: readonly string[]): Record<string, string> {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  return f;
}

/**
 * A replayed dead letter is an entry of the stream that only the group which gave up on it handles
 * (`replayFor`), and that read() never shows: a redelivery, not a new event. Null for a plain entry.
 */
export function replayedFor(fields: readonly string[]): string | null {
  if (isPlainEntry(fields)) return null;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'replayFor') return fields[i + 1]!;
  return null;
}

/** Decodes one element of an entity history list (written by APPEND_LUA). */
export function fromHistory(stream: StreamName, key: string, json: string): Recorded {
  const h = JSON.parse(json) as { id: string; type: string; version: string; data: string; recordedAtMs: string };
  return recorded(stream, h.id, h.type, key, Number(h.version), JSON.parse(h.data) as unknown, Number(h.recordedAtMs));
}

export function recorded(stream: StreamName, id: string, type: string, key: string, version: number, data: unknown, recordedAtMs: number): Recorded {
  return {
    type,
    data,
    metadata: { eventId: eventIdOf(stream, id), stream, position: id, key, version, recordedAtMs },
  };
}

/** RESP2 stream entries: [[id, fields | null], …]. Entries trimmed away come back with null fields. */
export type RawEntry = [id: string, fields: string[] | null];

export function asEntries(reply: unknown): RawEntry[] {
  return Array.isArray(reply) ? (reply as RawEntry[]) : [];
}

/** XREADGROUP reply for one stream: [[streamKey, entries]] or null on timeout. */
export function entriesOfRead(reply: unknown): RawEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const first = reply[0] as [string, unknown];
  return asEntries(first[1]);
}
