import type { Channels } from '../../domain/ports/channels.ts';
import { endpointOf, openRedis, type RedisClient, type RedisLocation } from './connection.ts';
import type { Logger } from './consumer.ts';

export interface RedisChannelsOptions extends RedisLocation {
  /** Namespace of channel names and kept-latest keys. */
  readonly prefix: string;
  readonly logger: Logger;
  /** A connection to publish on (not closed by `close()`), shared with the GPS path's other commands; default one of its own. */
  readonly pub?: RedisClient;
}

/** SET the channel's latest and PUBLISH in one step on the key's node, so a reader who subscribed and then read it misses nothing in between. */
const KEEP_AND_PUBLISH_LUA = `redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return redis.call('PUBLISH', ARGV[1], ARGV[2])`;

/** The store's clock in ms (TIME in a script: Redis 5+ replicates the effects, not the script). */
const NOW_LUA = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;
/** ARGV: ttlMs, members...: each member's score is the time its declaration lapses. */
const DECLARE_LUA = `${NOW_LUA} for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]) end return #ARGV - 1`;
/** Lapsed declarations go, the rest are read. */
const LISTENING_LUA = `${NOW_LUA} redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) return redis.call('ZRANGE', KEYS[1], 0, -1)`;

type WithKeep = RedisClient & {
  ridecastKeepPublish(key: string, channel: string, message: string, keepMs: number): Promise<number>;
  ridecastDeclare(key: string, ttlMs: number, ...members: string[]): Promise<number>;
  ridecastListening(key: string): Promise<string[]>;
};

/**
 * Channels on Redis Pub/Sub: one publishing connection, one subscriber connection (ioredis
 * resubscribes after a reconnect; what was published meanwhile is lost, as Pub/Sub is at most once).
 * On a Redis Cluster, PUBLISH reaches subscribers on every node (the cluster bus carries it); the
 * kept latest message is a key with the channel as hash tag, so kept channels spread over masters.
 */
export function getRedisChannels(o: RedisChannelsOptions): Channels {
  const endpoint = endpointOf(o);
  const retryStrategy = (times: number) => Math.min(50 * 2 ** times, 1_000);
  const pub = (o.pub ?? openRedis(endpoint, { retryStrategy, maxRetriesPerRequest: 1 })) as WithKeep;
  // Subscriber mode: nothing to pipeline.
  const sub = openRedis(endpoint, { retryStrategy, enableAutoPipelining: false });
  if (!o.pub) pub.on('error', () => undefined);
  sub.on('error', () => undefined);
  pub.defineCommand('ridecastKeepPublish', { numberOfKeys: 1, lua: KEEP_AND_PUBLISH_LUA });
  pub.defineCommand('ridecastDeclare', { numberOfKeys: 1, lua: DECLARE_LUA });
  pub.defineCommand('ridecastListening', { numberOfKeys: 1, lua: LISTENING_LUA });
  // One sorted set (one slot on a cluster) of "listener\nkey" members scored by when they lapse.
  const listeningKey = `${o.prefix}{channels}:listening`;
  const memberOf = (listener: string, key: string) => `${listener}\n${key}`;
  const handlers = new Map<string, (message: string) => void>();
  const name = (channel: string) => `${o.prefix}${channel}`;
  const keptKey = (channel: string) => `${o.prefix}{ch:${channel}}:latest`;
  sub.on('message', (channel: string, message: string) => {
    const handle = handlers.get(channel);
    if (!handle) return;
    try {
      handle(message);
    } catch (err) {
      o.logger.warn({ err, channel }, 'channel message handler failed');
    }
  });
  let failures = 0;
  const failed = (err: unknown) => {
    if (failures++ % 1000 === 0) o.logger.warn({ err }, 'publish failed (live push is best effort; clients resume from the log)');
  };

  return {
    publish(channel, message, keepMs) {
      const p = keepMs ? pub.ridecastKeepPublish(keptKey(channel), name(channel), message, keepMs) : pub.publish(name(channel), message);
      p.catch(failed);
    },
    async latest(channel) {
      return (await pub.get(keptKey(channel))) ?? null;
    },
    async subscribe(channel, onMessage) {
      const had = handlers.has(name(channel));
      handlers.set(name(channel), onMessage);
      if (!had) await sub.subscribe(name(channel));
    },
    async unsubscribe(channel) {
      if (!handlers.delete(name(channel))) return;
      await sub.unsubscribe(name(channel)).catch(() => undefined);
    },
    async declare(listener, keys, ttlMs) {
      // In slices: a call's arguments (and a script's stack) are bounded.
      for (let i = 0; i < keys.length; i += 1_000) await pub.ridecastDeclare(listeningKey, ttlMs, ...keys.slice(i, i + 1_000).map((k) => memberOf(listener, k)));
    },
    async withdraw(listener, keys) {
      for (let i = 0; i < keys.length; i += 1_000) await pub.zrem(listeningKey, ...keys.slice(i, i + 1_000).map((k) => memberOf(listener, k)));
    },
    async listening() {
      return (await pub.ridecastListening(listeningKey)).map((m) => {
        const at = m.indexOf('\n');
        return [m.slice(0, at), m.slice(at + 1)] as const;
      });
    },
    async close() {
      handlers.clear();
      for (const c of o.pub ? [sub] : [pub, sub]) {
        if (c.status === 'ready') await c.quit().catch(() => undefined);
        c.disconnect();
      }
    },
  };
}
