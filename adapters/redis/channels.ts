import type { Channels } from '../../domain/ports/channels.ts';
import { endpointOf, openRedis, type RedisClient, type RedisLocation } from './connection.ts';
import type { Logger } from './consumer.ts';

export interface RedisChannelsOptions extends RedisLocation {
  /** Namespace of channel names and kept-latest keys. */
  readonly prefix: string;
  readonly logger: Logger;
}

/** SET the channel's latest and PUBLISH in one step on the key's node, so a reader who subscribed and then read it misses nothing in between. */
const KEEP_AND_PUBLISH_LUA = `redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return redis.call('PUBLISH', ARGV[1], ARGV[2])`;

type WithKeep = RedisClient & { ridecastKeepPublish(key: string, channel: string, message: string, keepMs: number): Promise<number> };

/**
 * Channels on Redis Pub/Sub: one publishing connection, one subscriber connection (ioredis
 * resubscribes after a reconnect; what was published meanwhile is lost, as Pub/Sub is at most once).
 * On a Redis Cluster, PUBLISH reaches subscribers on every node (the cluster bus carries it); the
 * kept latest message is a key with the channel as hash tag, so kept channels spread over masters.
 */
export function getRedisChannels(o: RedisChannelsOptions): Channels {
  const endpoint = endpointOf(o);
  const retryStrategy = (times: number) => Math.min(50 * 2 ** times, 1_000);
  const pub = openRedis(endpoint, { retryStrategy, maxRetriesPerRequest: 1 }) as WithKeep;
  // Subscriber mode: nothing to pipeline.
  const sub = openRedis(endpoint, { retryStrategy, enableAutoPipelining: false });
  pub.on('error', () => undefined);
  sub.on('error', () => undefined);
  pub.defineCommand('ridecastKeepPublish', { numberOfKeys: 1, lua: KEEP_AND_PUBLISH_LUA });
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
    async close() {
      handlers.clear();
      for (const c of [pub, sub]) {
        if (c.status === 'ready') await c.quit().catch(() => undefined);
        c.disconnect();
      }
    },
  };
}
