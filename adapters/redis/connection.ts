import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './consumer.ts';

/**
 * Where Redis is: one server (`url`, e.g. `redis://host:6379`), or a Redis Cluster reached through
 * any of its nodes (`clusterNodes`, `host:port`; the client discovers the rest with CLUSTER SLOTS).
 */
export type RedisEndpoint = { readonly url: string } | { readonly clusterNodes: readonly string[] };

/**
 * A client for either. The commands this project sends behave the same on both, with one rule on a
 * cluster: a script, MULTI or multi-key command touches keys of one hash slot only, which the key
 * layouts guarantee with hash tags (`{rides}`, `{users}`, `{geo}`, `{driver-locations:3}`).
 */
export type RedisClient = Redis | Cluster;

/** Parses `host:port` (IPv6 in brackets: `[::1]:7000`). Throws naming the bad entry. */
export function parseNode(node: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(node.trim());
  const port = Number(m?.[2]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a host:port cluster node: "${node}"`);
  return { host: m[1]!, port };
}

/**
 * Opens a client. `options` are the single-server options; on a cluster they apply to each node's
 * connection, except those the cluster client owns: `retryStrategy` (then used both for the cluster
 * as a whole and for reconnecting a lost node, so a restarted node's blocking readers come back),
 * `enableAutoPipelining` (on unless `false` is given) and `enableOfflineQueue`.
 * RESP2 always: the stream replies are decoded as RESP2 shapes whatever the server speaks.
 */
export function openRedis(endpoint: RedisEndpoint, given: RedisOptions = {}): RedisClient {
  // Auto-pipelining unless a connection says otherwise (blocking readers, subscribers): the commands
  // issued in one tick leave in one socket write. Without it every command was its own write, and
  // those writes were a third of the CPU a GPS point cost on Redis (npm run profile -- e2e redis).
  const options: RedisOptions = { enableAutoPipelining: true, ...given };
  if ('url' in endpoint) return new Redis(endpoint.url, { protocol: 2, ...options });
  const { retryStrategy, enableAutoPipelining, enableOfflineQueue, ...perNode } = options;
  return new Cluster(endpoint.clusterNodes.map(parseNode), {
    redisOptions: { protocol: 2, ...perNode },
    ...(retryStrategy && { clusterRetryStrategy: (times: number) => retryStrategy(times), clusterNodeRetryStrategy: retryStrategy }),
    ...(enableAutoPipelining !== undefined && { enableAutoPipelining }),
    ...(enableOfflineQueue !== undefined && { enableOfflineQueue }),
    // A command meeting a failover or a not-yet-known slot waits for the topology rather than failing.
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
  });
}

/** Options that name a server or a cluster: exactly one of `url`, `clusterNodes`. */
export interface RedisLocation {
  /** One Redis server. */
  readonly url?: string;
  /** A Redis Cluster: some of its nodes as `host:port`. */
  readonly clusterNodes?: readonly string[];
}

export function endpointOf(o: RedisLocation): RedisEndpoint {
  if (o.clusterNodes && o.clusterNodes.length > 0) {
    if (o.url) throw new Error('give either a Redis url or cluster nodes, not both');
    return { clusterNodes: o.clusterNodes };
  }
  if (o.url) return { url: o.url };
  throw new Error('a Redis url or cluster nodes are required');
}

/** Reconnect backoff for every Redis connection of ours: doubling from 100 ms, at most a second. */
export const reconnectBackoff = (times: number) => Math.min(50 * 2 ** times, 1_000);

/**
 * A side connection that fails fast: one retry per command, the command timeout when one is set
 * (a backend fault answers 503 rather than hanging), errors left to each command's caller.
 */
export function openFailFast(o: RedisLocation & { readonly commandTimeoutMs?: number }): RedisClient {
  const redis = openRedis(endpointOf(o), {
    maxRetriesPerRequest: 1,
    retryStrategy: reconnectBackoff,
    ...(o.commandTimeoutMs && { commandTimeout: o.commandTimeoutMs }),
  });
  redis.on('error', () => undefined);
  return redis;
}

/** A connection that reconnects forever (capped backoff) and logs an outage once, not per attempt. */
export function connectLogged(endpoint: RedisEndpoint, logger: Logger, name: string, extra: RedisOptions): RedisClient {
  const conn = openRedis(endpoint, {
    retryStrategy: reconnectBackoff,
    ...extra,
  });
  let down = false;
  const lost = (err?: unknown) => {
    if (!down) logger.warn({ err, connection: name }, 'redis connection lost: reconnecting');
    down = true;
  };
  conn.on('error', lost); // also keeps ioredis from treating errors as unhandled
  conn.on('reconnecting', () => lost());
  conn.on('ready', () => {
    if (down) logger.warn({ connection: name }, 'redis connection restored');
    down = false;
  });
  return conn;
}
