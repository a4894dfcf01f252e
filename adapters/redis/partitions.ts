import { systemClock, type Clock } from '../../domain/ports/clock.ts';
import type { PartitionedConsumer } from '../../domain/ports/partitions.ts';
import type { Recorded, StreamName, Subscription } from '../../domain/ports/event-log.ts';
import { endpointOf, openRedis, reconnectBackoff, type RedisClient, type RedisLocation } from './connection.ts';
import { startGroupReader, type Logger } from './consumer.ts';
import { shardKeysOf } from './scripts.ts';

export interface RedisPartitionsOptions extends RedisLocation {
  readonly prefix: string;
  /** The sharded stream (its shards are the partitions) and the shared group that reads it. */
  readonly stream: StreamName;
  readonly shards: number;
  readonly group: string;
  /** This instance's name: its lease value and group member name. */
  readonly instanceId: string;
  /** A lease not renewed for this long lapses, and a survivor takes the shard over. Renewed every third of it. */
  readonly leaseMs: number;
  readonly claimIdleMs?: number;
  readonly maxDeliveries?: number;
  readonly blockMs?: number;
  readonly logger: Logger;
  /** Monotonic milliseconds (the lease's safety margin is measured locally). */
  readonly monotonicNow?: () => number;
  /** The group readers' claim timer. */
  readonly clock?: Clock;
}

/** Heartbeat in the members set, scored by expiry on the server's clock; returns the live count. */
const MEMBERS_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)
return redis.call('ZCARD', KEYS[1])`;
const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

type LeaseClient = RedisClient & {
  ridecastMembers(key: string, me: string, ttl: number): Promise<number>;
  ridecastRenew(key: string, me: string, ttl: number): Promise<number>;
  ridecastRelease(key: string, me: string): Promise<number>;
};

/**
 * Shard leases on Redis: each shard of `stream` is read by the one live instance holding its lease
 * (`SET <shard>:lease <instance> NX PX leaseMs`, renewed every leaseMs/3 by a compare-and-expire
 * script). Instances heartbeat into a members set; each aims at its fair share
 * (ceil(shards / live members)): one with more releases its highest shards after their in-flight
 * batch is acknowledged, one with fewer takes free ones. A taker first claims every entry still
 * pending in the shard's group (XAUTOCLAIM with idle 0: the lease says their reader is gone), then
 * reads them before new ones, so the shard's order, hence each driver's, holds across a handover.
 * An owner that could not renew for 2/3 of the lease stops reading the shard before it can lapse.
 */
export function getRedisPartitions(o: RedisPartitionsOptions): PartitionedConsumer {
  const endpoint = endpointOf(o);
  const mono = o.monotonicNow ?? (() => performance.now());
  const shards = shardKeysOf(o.prefix, o.stream, o.shards);
  const leaseKey = (n: number) => `${shards[n]!.stream}:lease`;
  const membersKey = `${o.prefix}{${o.stream}}:members:${o.group}`;
  // Opened by start(): a process that builds the infrastructure without running (a CLI) opens nothing.
  let main: LeaseClient = undefined as unknown as LeaseClient;
  function open(): void {
    main = openRedis(endpoint, { maxRetriesPerRequest: 1, retryStrategy: reconnectBackoff }) as LeaseClient;
    main.on('error', () => undefined);
    main.defineCommand('ridecastMembers', { numberOfKeys: 1, lua: MEMBERS_LUA });
    main.defineCommand('ridecastRenew', { numberOfKeys: 1, lua: RENEW_LUA });
    main.defineCommand('ridecastRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  }
  /** Shards this instance reads, with when their lease was last confirmed. */
  const owned = new Map<number, { reader: Subscription; renewedAt: number }>();
  let handler: ((events: readonly Recorded[]) => Promise<void>) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> = Promise.resolve();
  let stopped = false;
  // Where this instance starts looking for free shards: spread, so two newcomers rarely race for one.
  const offset = [...o.instanceId].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % shards.length;

  async function take(n: number): Promise<void> {
    const keys = shards[n]!;
    // The shard's blocking reader: nothing to pipeline.
    const conn = openRedis(endpoint, { maxRetriesPerRequest: 2, retryStrategy: reconnectBackoff, enableAutoPipelining: false });
    conn.on('error', () => undefined);
    try {
      await conn.call('XGROUP', 'CREATE', keys.stream, o.group, '0', 'MKSTREAM').catch((err: unknown) => {
        if (!/BUSYGROUP/.test(String(err))) throw err;
      });
      // What the previous owner was handed and did not acknowledge becomes ours, read before anything new.
      for (let cursor = '0-0'; ; ) {
        const reply = (await conn.call('XAUTOCLAIM', keys.stream, o.group, o.instanceId, 0, cursor, 'COUNT', 1000, 'JUSTID')) as [string, unknown];
        cursor = reply[0];
        if (cursor === '0-0') break;
      }
      const reader = await startGroupReader({
        conn,
        stream: o.stream,
        keys,
        group: o.group,
        consumer: o.instanceId,
        from: 'start',
        batchHandler: (events) => handler!(events),
        claimIdleMs: o.claimIdleMs ?? 30_000,
        maxDeliveries: o.maxDeliveries ?? 5,
        blockMs: Math.max(1, Math.floor(Math.min(o.blockMs ?? 5_000, o.leaseMs / 3))),
        logger: o.logger,
        onDeadLetter: () => undefined,
        clock: o.clock ?? systemClock,
      });
      owned.set(n, { reader, renewedAt: mono() });
    } catch (err) {
      conn.disconnect();
      await main.ridecastRelease(leaseKey(n), o.instanceId).catch(() => undefined);
      throw err;
    }
  }

  /** Stops reading a shard (its in-flight batch acknowledged first), then frees its lease if still ours. */
  async function give(n: number, release: boolean): Promise<void> {
    const mine = owned.get(n);
    if (!mine) return;
    owned.delete(n);
    await mine.reader.close().catch(() => undefined);
    if (release) await main.ridecastRelease(leaseKey(n), o.instanceId).catch(() => undefined);
  }

  async function tick(): Promise<void> {
    const now = mono();
    // Renew what we hold; a lease found lost (lapsed, taken) or unconfirmed too long stops its reader.
    await Promise.all(
      [...owned.keys()].map(async (n) => {
        const ok = await main.ridecastRenew(leaseKey(n), o.instanceId, o.leaseMs).catch(() => null);
        const mine = owned.get(n);
        if (!mine) return;
        if (ok === 1) mine.renewedAt = now;
        else if (ok === 0 || now - mine.renewedAt > (o.leaseMs * 2) / 3) {
          o.logger.warn({ shard: n, group: o.group }, ok === 0 ? 'shard lease lost: reading it no more' : 'shard lease not renewed in time: reading it no more');
          await give(n, false);
        }
      }),
    );
    const members = Number(await main.ridecastMembers(membersKey, o.instanceId, o.leaseMs));
    const share = Math.ceil(shards.length / Math.max(1, members));
    // Too many: hand back the highest ones (another member takes them on its next tick).
    for (const n of [...owned.keys()].sort((a, b) => b - a).slice(0, Math.max(0, owned.size - share))) await give(n, true);
    for (let i = 0; i < shards.length && owned.size < share && !stopped; i++) {
      const n = (offset + i) % shards.length;
      if (owned.has(n)) continue;
      if ((await main.call('SET', leaseKey(n), o.instanceId, 'PX', o.leaseMs, 'NX')) !== 'OK') continue;
      await take(n).catch((err) => o.logger.warn({ err, shard: n }, 'could not start reading a leased shard'));
    }
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      ticking = tick()
        .catch((err) => o.logger.warn({ err, group: o.group }, 'shard lease round failed: retrying'))
        .finally(schedule);
    }, o.leaseMs / 3);
    timer.unref();
  };

  return {
    async start(batchHandler) {
      handler = batchHandler;
      open();
      ticking = tick().catch((err) => o.logger.warn({ err, group: o.group }, 'shard lease round failed: retrying'));
      await ticking;
      schedule();
    },
    owned: () => [...owned.keys()].sort((a, b) => a - b),
    async close() {
      if (stopped || !main) return void (stopped = true);
      stopped = true;
      clearTimeout(timer);
      await ticking;
      await Promise.all([...owned.keys()].map((n) => give(n, true)));
      await main.zrem(membersKey, o.instanceId).catch(() => undefined);
      if (main.status === 'ready') await main.quit().catch(() => undefined);
      main.disconnect();
    },
  };
}
