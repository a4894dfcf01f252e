// A real Redis Cluster on loopback for tests: N masters (redis-server --cluster-enabled yes), joined
// with `redis-cli --cluster create … --cluster-replicas 0`, ready once every node reports
// cluster_state:ok and knows all 16384 slots.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from './redis.ts';
import { waitFor } from './wait.ts';

const run = promisify(execFile);

export interface RedisCluster {
  /** `127.0.0.1:port` of every master, as REDIS_CLUSTER_NODES takes them. */
  readonly nodes: string[];
  readonly masters: readonly RedisServer[];
  /** Keys on each master, matching `pattern` (SCAN): shows how a key layout spreads over the cluster. */
  keysPerMaster(pattern: string): Promise<number[]>;
  stop(): Promise<void>;
}

/**
 * A node also listens on port + 10000 (the cluster bus), so both must be free and the port < 55536.
 * Both stay below Linux's ephemeral range (32768+, see ./net.ts): no client socket takes them meanwhile.
 */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port) || taken.has(port + 10_000) || taken.has(port - 10_000)) continue;
    if ((await bindable(port)) && (await bindable(port + 10_000))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free port pair (p, p + 10000) for a cluster node');
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const taken = new Set<number>();
  const servers: RedisServer[] = [];
  const stop = async () => void (await Promise.all(servers.map((s) => s.stop())));
  try {
    for (let i = 0; i < masters; i++) {
      // A port may be grabbed between the check and the bind: try another pair then.
      for (let attempt = 1; ; attempt++) {
        const port = await clusterPort(taken);
        try {
          servers.push(
            await startRedis({
              port,
              args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'],
            }),
          );
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
        }
      }
    }
    const nodes = servers.map((s) => `127.0.0.1:${s.port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 60_000 });
    const clients = servers.map((s) => new Redis(s.url, { maxRetriesPerRequest: 1 }));
    try {
      await waitFor(
        async () => {
          for (const c of clients) {
            const info = String(await c.call('CLUSTER', 'INFO'));
            if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info) || !new RegExp(`cluster_known_nodes:${masters}\\b`).test(info)) return false;
          }
          return true;
        },
        'cluster_state:ok on every node',
        30_000,
        100,
      );
    } finally {
      for (const c of clients) c.disconnect();
    }
    return {
      nodes,
      masters: servers,
      async keysPerMaster(pattern) {
        return Promise.all(
          servers.map(async (s) => {
            const c = new Redis(s.url);
            try {
              let cursor = '0';
              let n = 0;
              do {
                const [next, keys] = await c.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
                cursor = next;
                n += keys.length;
              } while (cursor !== '0');
              return n;
            } finally {
              c.disconnect();
            }
          }),
        );
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
