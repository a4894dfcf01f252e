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
 * On one server all the shards an instance owns are read by one reader (see `readers` below).
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
  /** Shards this instance holds the lease of, with when it was last confirmed. */
  const owned = new Map<number, { renewedAt: number }>();
  // Who reads the owned shards. One server: ONE reader for all of them, with one multi-key
  // XREADGROUP, so one wake (and one XACK round trip) carries the points of every shard, rather
  // than a wake per shard for ~1 point each at a city's rate. A Cluster: one reader per shard, since
  // each shard has its own hash tag, so its own slot, and no command may name keys of two slots
  // (shards that happen to share a node still differ in slot).
  const perShard = 'clusterNodes' in endpoint;
  const readerOf = (n: number) => (perShard ? n : 0);
  const readers = new Map<number, { shards: readonly number[]; reader: Subscription }>();
  let handler: ((events: readonly Recorded[]) => Promise<void>) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> = Promise.resolve();
  let stopped = false;
  // Where this instance starts looking for free shards: spread, so two newcomers rarely race for one.
  const offset = [...o.instanceId].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % shards.length;

  /**
   * Starts reading shards whose lease we just got. What their previous owner was handed and did not
   * acknowledge becomes ours first (XAUTOCLAIM, idle 0), and a reader reads its own pending entries
   * before anything new, so each shard's order holds across the handover.
   */
  async function take(ns: readonly number[]): Promise<void> {
    const ready: number[] = [];
    for (const n of ns) {
      const keys = shards[n]!;
      try {
        await main.call('XGROUP', 'CREATE', keys.stream, o.group, '0', 'MKSTREAM').catch((err: unknown) => {
          if (!/BUSYGROUP/.test(String(err))) throw err;
        });
        for (let cursor = '0-0'; ; ) {
          const reply = (await main.call('XAUTOCLAIM', keys.stream, o.group, o.instanceId, 0, cursor, 'COUNT', 1000, 'JUSTID')) as [string, unknown];
          cursor = reply[0];
          if (cursor === '0-0') break;
        }
        ready.push(n);
      } catch (err) {
        o.logger.warn({ err, shard: n }, 'could not start reading a leased shard');
        await main.ridecastRelease(leaseKey(n), o.instanceId).catch(() => undefined);
      }
    }
    for (const n of ready) owned.set(n, { renewedAt: mono() });
    await reread(ready);
  }

  /** Stops reading shards (their in-flight batch acknowledged first), then frees their leases if still ours. */
  async function give(ns: readonly number[], release: boolean): Promise<void> {
    const mine = ns.filter((n) => owned.delete(n));
    await reread(mine);
    if (release) await Promise.all(mine.map((n) => main.ridecastRelease(leaseKey(n), o.instanceId).catch(() => undefined)));
  }

  /**
   * After shards were added or dropped: each reader they belong to is closed (its in-flight batch
   * handled and acknowledged, a blocking read cut short; what that read was handed stays pending,
   * ours, read first by the next reader or claimed by the shard's next owner) and started again
   * over the shards it now has. Ownership changes are rare (start, scale out or in, a crash).
   */
  async function reread(changed: readonly number[]): Promise<void> {
    for (const r of new Set(changed.map(readerOf))) {
      const old = readers.get(r);
      readers.delete(r);
      await old?.reader.close().catch(() => undefined);
      const mine = [...owned.keys()].filter((n) => readerOf(n) === r).sort((a, b) => a - b);
      if (mine.length === 0 || stopped) continue;
      // Blocking reads on a connection of their own: nothing to pipeline.
      const conn = openRedis(endpoint, { maxRetriesPerRequest: 2, retryStrategy: reconnectBackoff, enableAutoPipelining: false });
      conn.on('error', () => undefined);
      try {
        const reader = await startGroupReader({
          conn,
          stream: o.stream,
          keys: mine.map((n) => shards[n]!),
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
        readers.set(r, { shards: mine, reader });
      } catch (err) {
        // Nobody reads them now: give their leases back, to be taken again (here or elsewhere).
        conn.disconnect();
        o.logger.warn({ err, shards: mine }, 'could not start reading leased shards');
        for (const n of mine) owned.delete(n);
        await Promise.all(mine.map((n) => main.ridecastRelease(leaseKey(n), o.instanceId).catch(() => undefined)));
      }
    }
  }

  async function tick(): Promise<void> {
    const now = mono();
    // Renew what we hold; a lease found lost (lapsed, taken) or unconfirmed too long is read no more.
    const lost: number[] = [];
    await Promise.all(
      [...owned.keys()].map(async (n) => {
        const ok = await main.ridecastRenew(leaseKey(n), o.instanceId, o.leaseMs).catch(() => null);
        const mine = owned.get(n);
        if (!mine) return;
        if (ok === 1) mine.renewedAt = now;
        else if (ok === 0 || now - mine.renewedAt > (o.leaseMs * 2) / 3) {
          o.logger.warn({ shard: n, group: o.group }, ok === 0 ? 'shard lease lost: reading it no more' : 'shard lease not renewed in time: reading it no more');
          lost.push(n);
        }
      }),
    );
    if (lost.length > 0) await give(lost, false);
    const members = Number(await main.ridecastMembers(membersKey, o.instanceId, o.leaseMs));
    const share = Math.ceil(shards.length / Math.max(1, members));
    // Too many: hand back the highest ones (another member takes them on its next tick).
    const excess = [...owned.keys()].sort((a, b) => b - a).slice(0, Math.max(0, owned.size - share));
    if (excess.length > 0) await give(excess, true);
    // Too few: lease free ones, then start reading them all at once (one reader restart, not one per shard).
    const leased: number[] = [];
    for (let i = 0; i < shards.length && owned.size + leased.length < share && !stopped; i++) {
      const n = (offset + i) % shards.length;
      if (owned.has(n)) continue;
      if ((await main.call('SET', leaseKey(n), o.instanceId, 'PX', o.leaseMs, 'NX')) === 'OK') leased.push(n);
    }
    if (leased.length > 0) await take(leased);
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
      await give([...owned.keys()], true);
      await main.zrem(membersKey, o.instanceId).catch(() => undefined);
      if (main.status === 'ready') await main.quit().catch(() => undefined);
      main.disconnect();
    },
  };
}
