// Real server processes (src/main.ts) for scale-out and fault tests: spawn, wait for /healthz,
// stop (SIGTERM, then SIGKILL), crash (SIGKILL), freeze (SIGSTOP), and their output for diagnostics.
//
// Why `node --import tsx src/main.ts` rather than `npx tsx src/main.ts`: it is the same loader, but
// one process. `npx` is npm → tsx CLI → node, and a signal to the top pid never reaches the server
// (kill -9 of the tsx CLI leaves the real server running as an orphan). Here the child's pid IS the
// server, so `crash()` is a real kill -9 of the instance (children.ts: process groups, pdeathsig).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { captureOutput, killGroup, spawnGroup } from './children.ts';
import { freePort } from './net.ts';
import { waitFor } from './wait.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const TEST_SECRET = 'scale-out-test-secret-long-enough';
export const TEST_ADMIN = { username: 'admin', password: 'admin-password-1' };

export interface ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Resolves when the process has exited, with how. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** The last 64 KiB of stdout + stderr (pino logs at LOG_LEVEL, crash traces). */
  output(): string;
  /** Graceful stop: SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** kill -9: no shutdown hook runs, nothing is acknowledged, sockets are reset by the kernel. */
  crash(): Promise<void>;
  /** SIGSTOP / SIGCONT: the process holds its connections but does nothing. */
  freeze(): void;
  thaw(): void;
}

export interface StartOptions {
  readonly name: string;
  /** Merged over the defaults below (and over nothing of the test runner's own environment but PATH/HOME). */
  readonly env: Record<string, string>;
  /** How long to wait for GET /healthz to answer 200. */
  readonly readyTimeoutMs?: number;
  /** Use this port (a restart on the same address); default a free one. */
  readonly port?: number;
}

/** The environment every test instance gets unless the test says otherwise. */
export function baseEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    DEMO: '0',
    SIMULATE: '0',
    JWT_SECRET: TEST_SECRET,
    ADMIN_USERNAME: TEST_ADMIN.username,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '1000000',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  };
}

/** Starts `src/main.ts` and waits until `/healthz` answers; on failure kills it and throws with its output. */
export async function startServer(opts: StartOptions): Promise<ServerProcess> {
  const port = opts.port ?? (await freePort());
  const env = { ...baseEnv(), ...opts.env, PORT: String(port) };
  const child = spawnGroup(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env });
  const output = captureOutput(child);
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  const url = `http://127.0.0.1:${port}`;

  async function halt(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    if (!alive()) return;
    killGroup(child, 'SIGCONT'); // a frozen process cannot handle SIGTERM
    killGroup(child, signal);
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  const server: ServerProcess = {
    name: opts.name,
    url,
    port,
    pid: child.pid ?? -1,
    exited,
    alive,
    output,
    stop: (graceMs = 10_000) => halt('SIGTERM', graceMs),
    async crash() {
      if (!alive()) return;
      killGroup(child, 'SIGKILL');
      await exited;
    },
    freeze: () => killGroup(child, 'SIGSTOP'),
    thaw: () => killGroup(child, 'SIGCONT'),
  };

  const readyTimeoutMs = opts.readyTimeoutMs ?? 45_000;
  try {
    await waitFor(
      async () => {
        if (spawnError) throw new Error(`${opts.name}: spawn failed: ${spawnError.message}`);
        if (!alive()) throw new Error(`${opts.name} exited (${child.exitCode ?? child.signalCode}) before /healthz answered:\n${output()}`);
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) }).catch(() => null); // null: not listening yet
        return res?.status === 200;
      },
      `${opts.name} to answer /healthz`,
      readyTimeoutMs,
      100,
    );
  } catch (err) {
    await server.crash();
    const why = (err as Error).message;
    throw new Error(why.startsWith('timed out') ? `${why}:\n${output()}` : why);
  }
  return server;
}

/** Stops every server given (those already gone are skipped), in parallel. */
export async function stopAll(servers: readonly (ServerProcess | undefined)[], graceMs = 5_000): Promise<void> {
  await Promise.all(servers.map((s) => s?.stop(graceMs)));
}

/** The tail of each server's output, for a failed test's report. */
export function diagnostics(servers: readonly (ServerProcess | undefined)[], maxChars = 6_000): string {
  return servers
    .filter((s): s is ServerProcess => !!s)
    .map((s) => `----- ${s.name} (pid ${s.pid}, ${s.alive() ? 'running' : 'exited'}) -----\n${s.output().slice(-maxChars) || '(no output)'}`)
    .join('\n');
}
