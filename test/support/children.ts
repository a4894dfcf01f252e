// Child processes the tests start: each the leader of its own process group (killed as a group),
// under `setpriv --pdeathsig KILL` where available so it dies with the test worker even if the worker
// itself is SIGKILLed, and SIGKILLed on exit as a last resort. Their output is kept for diagnostics.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';

const SETPRIV = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;

const live = new Set<ChildProcess>();
let hooked = false;
function hook(): void {
  if (hooked) return;
  hooked = true;
  // Last resort when a test forgets to stop what it started: SIGKILL every group we started.
  process.once('exit', () => {
    for (const c of live) killGroup(c, 'SIGKILL');
  });
}

/** Spawns `command` as a process-group leader that dies with this process; tracked until it exits. */
export function spawnGroup(command: string, args: readonly string[], options: Omit<SpawnOptions, 'detached' | 'stdio'>): ChildProcess {
  hook();
  const opts: SpawnOptions = { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: true };
  const child = SETPRIV ? spawn(SETPRIV, ['--pdeathsig', 'KILL', command, ...args], opts) : spawn(command, args, opts);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Signals the child's whole process group (the child alone if that fails); nothing once it has exited. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Keeps the last `keepChars` of a child's stdout + stderr, interleaved as they came. */
export function captureOutput(child: ChildProcess, keepChars = 64 * 1024): () => string {
  let output = '';
  const collect = (b: Buffer) => {
    output += b.toString();
    if (output.length > keepChars) output = output.slice(-keepChars);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return () => output;
}
