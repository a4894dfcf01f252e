import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opaque, type OpaqueLog } from './support/opaque-log.ts';
import { getRedisEventLog, type RedisEventLog, type RedisEventLogOptions } from '../adapters/redis/event-log.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import { PermanentFailure } from '../domain/failures.ts';
import { compareIds, shardOf } from '../adapters/redis/scripts.ts';
import { eventLogContract } from './contract/event-log.contract.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { waitFor } from './support/wait.ts';

let server: RedisServer;
let counter = 0;
const warnings: unknown[] = [];
const logger = { warn: (o: unknown) => void warnings.push(o), error: (o: unknown) => void warnings.push(o) };

beforeAll(async () => {
  server = await startRedis({ aof: true });
});
afterAll(async () => {
  await server?.stop();
});

const makeLog = (extra: Partial<RedisEventLogOptions> = {}) =>
  opaque(getRedisEventLog({ url: server.url, prefix: `t${++counter}:`, claimIdleMs: 300, blockMs: 1_000, logger, ...extra }));

eventLogContract('redis', async () => makeLog());

describe('redis event log specifics', () => {
  const nOf = (e: Recorded) => (e.data as { n: number }).n;
  const gps = (n: number) => ({ type: 'DriverLocationReported', data: { n, lat: 52.5, lng: 13.4 } });
  let plain: Redis;
  beforeAll(() => {
    plain = new Redis(server.url, { protocol: 2 });
  });
  afterAll(() => plain.disconnect());

  it('trims a stream to about maxLength (MAXLEN ~) and keeps GPS points versionless', async () => {
    const log = makeLog({ maxLength: { 'driver-locations': 50 } });
    const prefix = `t${counter}:`;
    try {
      for (let n = 1; n <= 600; n += 10) await log.append('driver-locations', 'd_1', Array.from({ length: 10 }, (_, i) => gps(n + i)));
      const [one] = await log.append('driver-locations', 'd_1', [gps(601)]);
      expect(one!.metadata.version).toBe(0);
      const len = await plain.xlen(`${prefix}{driver-locations}`);
      // Approximate trimming drops whole radix-tree nodes (100 entries by default).
      expect(len).toBeGreaterThanOrEqual(50);
      expect(len).toBeLessThanOrEqual(50 + 100);
      const kept = await log.read('driver-locations');
      expect(kept.length).toBe(len);
      expect(nOf(kept.at(-1)!)).toBe(601);
      expect(await log.readKey('driver-locations', 'd_1')).toEqual([]);
    } finally {
      await log.close();
    }
  });

  it('splits driver-locations into shards by driver: each driver on one shard in order, reads and groups cover every shard', async () => {
    const log = makeLog({ locationShards: 4 });
    const prefix = `t${counter}:`;
    const drivers = Array.from({ length: 12 }, (_, i) => `d_${i}`);
    const got = new Map<string, number[]>();
    const sub = await log.subscribe('driver-locations', {
      group: 'g',
      consumer: 'c1',
      handler: async (e) => void got.set(e.metadata.key, [...(got.get(e.metadata.key) ?? []), nOf(e)]),
    });
    try {
      // All drivers at once (one pipeline, one millisecond): ids made on different shards must still differ.
      for (let n = 1; n <= 5; n++) await Promise.all(drivers.map((d) => log.append('driver-locations', d, [gps(n)])));
      await log.append('driver-locations', 'd_0', [gps(6), gps(7)]);
      const lengths = await Promise.all([0, 1, 2, 3].map((s) => plain.xlen(`${prefix}{driver-locations:${s}}`)));
      expect(lengths.reduce((a, b) => a + b, 0)).toBe(62);
      expect(lengths.filter((n) => n > 0).length).toBeGreaterThan(1);
      expect(await plain.exists(`${prefix}{driver-locations}`)).toBe(0);

      const all = await log.read('driver-locations');
      expect(all).toHaveLength(62);
      expect(new Set(all.map((e) => e.metadata.eventId)).size).toBe(62);
      const positions = all.map((e) => e.metadata.position);
      expect(positions).toEqual([...positions].sort(compareIds));
      for (const d of drivers) expect(all.filter((e) => e.metadata.key === d).map(nOf)).toEqual(d === 'd_0' ? [1, 2, 3, 4, 5, 6, 7] : [1, 2, 3, 4, 5]);
      // Paging from a position across shards gives the same sequence.
      const paged: Recorded[] = [];
      for (let page = await log.read('driver-locations', { limit: 5 }); page.length > 0; page = await log.read('driver-locations', { after: page.at(-1)!.metadata.position, limit: 5 })) paged.push(...page);
      expect(paged.map((e) => e.metadata.eventId)).toEqual(all.map((e) => e.metadata.eventId));

      await waitFor(() => [...got.values()].reduce((a, b) => a + b.length, 0) === 62, 'every point through the group');
      for (const d of drivers) expect(got.get(d)).toEqual(d === 'd_0' ? [1, 2, 3, 4, 5, 6, 7] : [1, 2, 3, 4, 5]);
    } finally {
      await sub.close();
      await log.close();
    }
  });

  it('keeps entity histories whole when the stream itself is trimmed', async () => {
    const log = makeLog({ maxLength: { rides: 1 } });
    try {
      for (let v = 0; v < 300; v++) await log.append('rides', 'r_1', [{ type: 'Numbered', data: { n: v + 1 } }], { expectedVersion: v });
      expect((await log.read('rides')).length).toBeLessThan(300);
      const history = await log.readKey('rides', 'r_1');
      expect(history.map((e) => e.metadata.version)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    } finally {
      await log.close();
    }
  });

  it('sets an event aside as a dead letter after maxDeliveries and moves on', async () => {
    const log = makeLog({ maxDeliveries: 3 });
    const prefix = `t${counter}:`;
    const attempts: number[] = [];
    const handled: number[] = [];
    const sub = await log.subscribe('rides', {
      group: 'poisoned',
      consumer: 'c1',
      handler: async (e) => {
        if (nOf(e) === 2) {
          attempts.push(2);
          throw new PermanentFailure('poison');
        }
        handled.push(nOf(e));
      },
    });
    try {
      for (let n = 1; n <= 3; n++) await log.append('rides', 'r_1', [{ type: 'Numbered', data: { n } }]);
      await waitFor(() => handled.includes(3), 'the event after the poison one', 10_000);
      expect(attempts).toHaveLength(3);
      expect(handled).toEqual([1, 3]);
      expect(log.deadLetterCount()).toBe(1);
      const dead = (await plain.xrange(`${prefix}{rides}:dead`, '-', '+')) as [string, string[]][];
      expect(dead).toHaveLength(1);
      const fields = dead[0]![1];
      expect(JSON.parse(fields[fields.indexOf('event') + 1]!)[4]).toEqual({ n: 2 });
      expect(fields[fields.indexOf('group') + 1]).toBe('poisoned');
      expect(await plain.call('XPENDING', `${prefix}{rides}`, 'poisoned')).toEqual([0, null, null, null]);
    } finally {
      await sub.close();
      await log.close();
    }
  });

  it('hands an entry re-read after reconnects and restarts (XPENDING count past maxDeliveries) to its handler, not to the dead letters', async () => {
    const log = makeLog({ maxDeliveries: 3 });
    const prefix = `t${counter}:`;
    const stalled = await log.subscribe('rides', { group: 'patient', consumer: 'c1', handler: () => new Promise<void>(() => undefined) });
    const [e] = await log.append('rides', 'r_1', [{ type: 'Numbered', data: { n: 1 } }]);
    const pendingCount = async () => ((await plain.call('XPENDING', `${prefix}{rides}`, 'patient', '-', '+', 10)) as [string, string, number, number][])[0]?.[3] ?? 0;
    await waitFor(async () => (await pendingCount()) >= 1, 'the first delivery', 10_000);
    await stalled.abort();
    // Each reconnect or restart of the member re-reads its pending entries: delivered 6 times, never answered.
    while ((await pendingCount()) < 6) await plain.call('XCLAIM', `${prefix}{rides}`, 'patient', 'c1', 0, e!.metadata.position);
    const handled: Recorded[] = [];
    const sub = await log.subscribe('rides', { group: 'patient', consumer: 'c1', handler: async (ev) => void handled.push(ev) });
    try {
      await waitFor(() => handled.length === 1, 'the entry handled', 10_000);
      expect(handled[0]!.metadata.eventId).toBe(e!.metadata.eventId);
      expect(await log.deadLetters('rides')).toEqual([]);
    } finally {
      await sub.close();
      await log.close();
    }
  });

  it('writes entries that a plain XRANGE (as redis-cli) shows as one readable JSON field: [type, key, version, recordedAtMs, data]', async () => {
    const log = makeLog({ locationShards: 2 });
    const prefix = `t${counter}:`;
    try {
      const [e] = await log.append('rides', 'r_9', [{ type: 'RideRequested', data: { riderId: 'u_1', pickup: { lat: 1.5, lng: 2 } } }], { expectedVersion: 0 });
      const entries = (await plain.xrange(`${prefix}{rides}`, '-', '+')) as [string, string[]][];
      expect(entries).toHaveLength(1);
      const [id, fields] = entries[0]!;
      expect(id).toBe(e!.metadata.position);
      expect(fields).toHaveLength(2);
      expect(fields[0]).toBe('event');
      expect(JSON.parse(fields[1]!)).toEqual(['RideRequested', 'r_9', 1, e!.metadata.recordedAtMs, { riderId: 'u_1', pickup: { lat: 1.5, lng: 2 } }]);
      expect(Math.abs(e!.metadata.recordedAtMs - Date.now())).toBeLessThan(60_000);
      expect(await plain.hget(`${prefix}{rides}:v`, 'r_9')).toBe('1');
      // GPS through the shard script (several shards) and through a plain XADD (a key and type that need escaping).
      const [p] = await log.append('driver-locations', 'd_"1/é', [{ type: 'Loc"ation', data: { lat: 1 } }]);
      const [one] = await makeLog().append('driver-locations', 'd_2', [{ type: 'LocationRecorded', data: { lat: 2 } }]);
      for (const [k, got, type, key] of [[`${prefix}{driver-locations:${shardOf('d_"1/é', 2)}}`, p!, 'Loc"ation', 'd_"1/é'], [`t${counter}:{driver-locations}`, one!, 'LocationRecorded', 'd_2']] as const) {
        const f = ((await plain.xrange(k, got.metadata.position, got.metadata.position)) as [string, string[]][])[0]![1];
        expect(f[0]).toBe('event');
        expect(JSON.parse(f[1]!)).toEqual([type, key, 0, got.metadata.recordedAtMs, got.data]);
      }
    } finally {
      await log.close();
    }
  });

  it('reads, delivers and replays entries of the earlier five-field layout (type, key, version, data, recordedAtMs) beside new ones', async () => {
    const log = makeLog({ maxDeliveries: 1 });
    const prefix = `t${counter}:`;
    try {
      // A log written before the `event` field: raw entries as the old scripts wrote them.
      const old = await plain.xadd(`${prefix}{rides}`, '*', 'type', 'Numbered', 'key', 'r_1', 'version', '1', 'data', JSON.stringify({ n: 1 }), 'recordedAtMs', '1700000000000');
      const poison = await plain.xadd(`${prefix}{rides}`, '*', 'type', 'Numbered', 'key', 'r_1', 'version', '2', 'data', JSON.stringify({ n: 2 }), 'recordedAtMs', '1700000000001');
      await plain.hset(`${prefix}{rides}:v`, 'r_1', '2');
      const [added] = await log.append('rides', 'r_1', [{ type: 'Numbered', data: { n: 3 } }], { expectedVersion: 2 });
      const read = await log.read('rides');
      expect(read.map((e) => [e.metadata.position, e.metadata.eventId, e.type, e.metadata.key, e.metadata.version, e.metadata.recordedAtMs, e.data])).toEqual([
        [old, `rides:${old}`, 'Numbered', 'r_1', 1, 1700000000000, { n: 1 }],
        [poison, `rides:${poison}`, 'Numbered', 'r_1', 2, 1700000000001, { n: 2 }],
        [added!.metadata.position, added!.metadata.eventId, 'Numbered', 'r_1', 3, added!.metadata.recordedAtMs, { n: 3 }],
      ]);
      expect(await log.read('rides', { after: old! })).toEqual(read.slice(1));
      // A group handles both layouts; the old-layout entry it gives up on is a dead letter that replays as itself.
      const handled: Recorded[] = [];
      let failOnce = true;
      const sub = await log.subscribe('rides', {
        group: 'mixed',
        consumer: 'c1',
        handler: async (e) => {
          if (nOf(e) === 2 && failOnce) throw new PermanentFailure('poison, once');
          handled.push(e);
        },
      });
      try {
        await waitFor(() => handled.length === 2 && log.deadLetterCount() === 1, 'both good entries handled, the poison one set aside', 10_000);
        const [dead] = await log.deadLetters('rides');
        expect(dead!.event).toEqual(read[1]);
        failOnce = false;
        expect(await log.replayDeadLetter(dead!.id)).toBe(true);
        await waitFor(() => handled.length === 3, 'the replayed old-layout entry', 10_000);
        expect(handled.map((e) => e.metadata.eventId).sort()).toEqual(read.map((e) => e.metadata.eventId).sort());
        expect(handled.find((e) => nOf(e) === 2)).toEqual(read[1]);
      } finally {
        await sub.close();
      }
    } finally {
      await log.close();
    }
  });

  it('delivers everything appended before and after a redis-server restart (AOF), losing nothing', async () => {
    const log = makeLog();
    const seen = new Set<number>();
    // After five events the handler stalls until the restart is under way: the rest of the batch is
    // read but unacknowledged across the restart, and the stalled event's XACK meets the outage.
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const handler = async (e: Recorded) => {
      if (seen.size >= 5) await gate;
      seen.add(nOf(e));
    };
    const sub = await log.subscribe('rides', { group: 'survivor', consumer: 'c1', handler });
    try {
      for (let n = 1; n <= 20; n++) await log.append('rides', `r_${n % 3}`, [{ type: 'Numbered', data: { n } }]);
      await waitFor(() => seen.size >= 5, 'some events before the restart', 10_000);
      expect(seen.size).toBe(5);
      // Released once the server is down: the stalled event's XACK meets the outage.
      await server.restart(release);
      await waitFor(() => log.ping(), 'the log to reconnect', 15_000, 100);
      for (let n = 21; n <= 40; n++) await log.append('rides', `r_${n % 3}`, [{ type: 'Numbered', data: { n } }]);
      await waitFor(() => seen.size >= 40, 'all 40 events after the restart', 20_000);
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect((await log.read('rides')).map(nOf)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    } finally {
      release();
      await sub.close();
      await log.close();
    }
  });

  it('answers ping false while redis is down, true again once it is back', async () => {
    const log = makeLog();
    try {
      expect(await log.ping()).toBe(true);
      await server.kill();
      await waitFor(async () => !(await log.ping()), 'ping to report the outage', 5_000, 50);
      await server.start();
      await waitFor(() => log.ping(), 'ping to recover', 15_000, 100);
    } finally {
      await log.close();
    }
  });
});
