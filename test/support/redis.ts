// Real redis-server (Debian package) on a free 127.0.0.1 port, for tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from './net.ts';

export interface RedisServer {
  url: string;
  port: number;
  /** Temp dir holding the AOF (appendonlydir/). Removed by stop(). */
  dir: string;
  /** Graceful shutdown for good; removes the data dir. */
  stop(): Promise<void>;
  /** Graceful shutdown, then start again on the same port and dir; `whileDown` runs once it has exited. */
  restart(whileDown?: () => void): Promise<void>;
  /** SIGKILL (crash); the dir is kept so start() can recover from the AOF. */
  kill(): Promise<void>;
  /** Start again (after kill()) on the same port and dir. */
  start(): Promise<void>;
}

export interface RedisOptions {
  aof?: boolean;
  /** Only with aof. Default 'always' so a kill -9 right after a reply loses nothing. */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** Listen on this port (default: a free one). */
  port?: number;
  /** More redis-server arguments (e.g. cluster mode), after the defaults. */
  args?: readonly string[];
}

// Safety net for tests that never call stop(): kill servers and drop their dirs on exit.
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let hooked = false;
function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
}
// vitest SIGTERMs its workers, so the exit hook above may not run: dirs are named after the
// owning pid and those of dead pids are swept on the next start.
const PREFIX = 'ridecast-redis-';
async function sweepStaleDirs(): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const pid = Number(/^ridecast-redis-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') await rm(join(tmpdir(), name), { recursive: true, force: true });
    }
  }
}

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

// setpriv --pdeathsig: redis dies with the test worker even if the worker is SIGKILLed.
const SETPRIV = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  await sweepStaleDirs();
  const dir = await mkdtemp(join(tmpdir(), `${PREFIX}${process.pid}-`));
  hook();
  dirs.add(dir);
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', opts.aof ? 'yes' : 'no',
    '--appendfsync', opts.appendfsync ?? 'always',
    '--daemonize', 'no',
    '--logfile', '',
    '--loglevel', 'warning',
    ...(opts.args ?? []),
  ];
  let child: ChildProcess | undefined;
  let output = '';

  async function launch(): Promise<void> {
    output = '';
    const c = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', 'redis-server', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    track(c);
    const collect = (b: Buffer) => {
      if (output.length < 20_000) output += b.toString();
    };
    c.stdout?.on('data', collect);
    c.stderr?.on('data', collect);
    let spawnError: Error | undefined;
    c.once('error', (e) => (spawnError = e));
    try {
      await waitReady(c, () => spawnError);
    } catch (e) {
      c.kill('SIGKILL');
      child = undefined;
      throw e;
    }
  }

  async function waitReady(c: ChildProcess, spawnError: () => Error | undefined): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const err = spawnError();
      if (err) throw new Error(`redis-server failed to start: ${err.message}`);
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`redis-server exited (${c.exitCode ?? c.signalCode}) on port ${port}:\n${output}`);
      }
      const client = new Redis({
        host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null,
        maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 1000,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        if ((await client.ping()) === 'PONG') return; // LOADING (AOF replay) throws -> retry
      } catch {
        // not up yet
      } finally {
        client.disconnect();
      }
      if (Date.now() > deadline) {
        throw new Error(`redis-server on port ${port} did not answer PING within 15s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function halt(signal: NodeJS.Signals): Promise<void> {
    const c = child;
    child = undefined;
    if (!c) return;
    const done = exited(c);
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  }

  try {
    await launch();
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    dirs.delete(dir);
    throw e;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      await halt('SIGTERM');
      await rm(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
    async restart(whileDown) {
      await halt('SIGTERM');
      whileDown?.();
      await launch();
    },
    async kill() {
      await halt('SIGKILL');
    },
    async start() {
      if (child) throw new Error('redis-server already running');
      await launch();
    },
  };
}

/**
 * A real redis-server for the enclosing `describe` (or file) and a plain RESP2 client on it, for
 * tests that look at what the adapters left in Redis. Read `.server` and `.plain` inside tests and
 * hooks: they are set in `beforeAll`.
 */
export function useRedis(): { readonly server: RedisServer; readonly plain: Redis } {
  const redis = {} as { server: RedisServer; plain: Redis };
  beforeAll(async () => {
    redis.server = await startRedis();
    redis.plain = new Redis(redis.server.url, { protocol: 2 });
  });
  afterAll(async () => {
    redis.plain?.disconnect();
    await redis.server?.stop();
  });
  return redis;
}
