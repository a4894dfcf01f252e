// Runs bench/server.ts in its own process, so the server's RSS and event loop are its own and the
// load generator does not share them. The child exits when our end of its stdin closes.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, ROOT } from './report.ts';

/** `node --import tsx --expose-gc <script> …args`: the command and its arguments. */
export function nodeCommand(script: string, args: string[] = []): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', '--expose-gc', script, ...args]];
}

export interface ServerChild {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The child's resident set size (MiB) from /proc, without asking it. */
  rssMiB(): number;
  get<T = any>(path: string): Promise<T>; // eslint-disable-line @typescript-eslint/no-explicit-any
  post<T = any>(path: string, body?: unknown): Promise<T>; // eslint-disable-line @typescript-eslint/no-explicit-any
  stop(): Promise<void>;
  readonly exited: Promise<number | null>;
}

/** Starts bench/server.ts with `env` (BENCH_MODE, TRANSPORT, …) and waits for its `ready` line. */
export async function startServerChild(env: Record<string, string>, { timeoutMs = 90_000, label = 'server' } = {}): Promise<ServerChild> {
  // BENCH_SERVER_SCRIPT: a bundle of bench/server.ts to run instead (npm run profile builds one, so
  // that a profile has the source's lines; under tsx every module is one line).
  const script = process.env.BENCH_SERVER_SCRIPT;
  const [cmd, args] = script ? [process.execPath, ['--expose-gc', script]] : nodeCommand(join(BENCH_DIR, 'server.ts'));
  // Extra node flags for the server only (e.g. --cpu-prof), for looking into a result.
  if (process.env.BENCH_SERVER_FLAGS) args.unshift(...process.env.BENCH_SERVER_FLAGS.split(' '));
  const child: ChildProcess = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    const s = b.toString();
    if (stderr.length < 50_000) stderr += s;
    for (const line of s.split('\n')) if (line.trim()) process.stderr.write(`[${label}] ${line}\n`);
  });
  const ready = await new Promise<{ url: string; port: number; pid: number }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label} did not start within ${timeoutMs} ms\n${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl).trim();
        out = out.slice(nl + 1);
        if (line.startsWith('{"ready"')) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as { url: string; port: number; pid: number });
        } else if (line) process.stdout.write(`[${label}] ${line}\n`);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code}) before it was ready\n${stderr.slice(-2000)}`));
    });
  });

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${ready.url}${path}`, {
      method,
      ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : null) as T;
  }

  return {
    ...ready,
    exited,
    rssMiB() {
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${ready.pid}/status`, 'utf8'))?.[1]);
        return kb / 1024;
      } catch {
        return NaN;
      }
    },
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body ?? {}),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
