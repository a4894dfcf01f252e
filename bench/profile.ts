// `npm run profile -- <scenario> [transport]`: runs one short bench scenario with the server's CPU
// profiled over the measured run only (the inspector, from /bench/stats?reset=1 to the next
// /bench/stats: no start-up, no set-up), writes it to bench/results/profiles/, and prints the
// functions with the most self time (the top five as a markdown table, for the README).
//   scenario: ingest (transport memory | redis | kafka, default redis), e2e (memory | redis, default redis)
//   or fanout (memory only: the transport argument is ignored; the top step, default 20,000 sockets).
//   `npm run profile -- --read <file.cpuprofile>` prints the table of an existing profile.
import { spawn } from 'node:child_process';
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join, relative } from 'node:path';
import { nodeCommand } from './lib/child.ts';
import { BENCH_DIR, RESULTS_DIR, ROOT } from './lib/report.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  /** Samples per source line of this node's function (1-based lines of the script that ran). */
  positionTicks?: { line: number; ticks: number }[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface FunctionCost {
  name: string;
  where: string;
  selfMs: number;
  /** Share of the busy (non-idle) time. */
  pct: number;
}

/** Self time per function (name + file + line), busiest first; idle time is left out of the shares. */
export function topFunctions(profile: CpuProfile): { busyMs: number; idleMs: number; top: FunctionCost[] } {
  const frameOf = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, { name: string; where: string; us: number }>();
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0; // a delta is the time up to the next sample
    const f = frameOf.get(id)!;
    if (f.functionName === '(idle)') return void (idleUs += us);
    const file = f.url ? relative(ROOT, f.url.replace(/^file:\/\//, '')) : '';
    const where = file ? `${file.replace(/^node_modules\//, '')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName}@${where}`;
    const entry = self.get(key) ?? { name: f.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    self.set(key, entry);
  });
  const busyUs = [...self.values()].reduce((n, e) => n + e.us, 0);
  const top = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .map((e) => ({ name: e.name, where: e.where, selfMs: Math.round(e.us / 100) / 10, pct: Math.round((e.us / busyUs) * 1000) / 10 }));
  return { busyMs: Math.round(busyUs / 1000), idleMs: Math.round(idleUs / 1000), top };
}

/**
 * The lines where the busiest functions of the bundled server spend their samples, with the line's
 * text: a function's self time says where to look, its lines say what to change.
 */
function hotLines(profile: CpuProfile, script: string, functions: FunctionCost[], perFunction = 4): string[] {
  const lines = readFileSync(script, 'utf8').split('\n');
  const out: string[] = [];
  for (const f of functions) {
    const ticks = new Map<number, number>();
    let total = 0;
    for (const n of profile.nodes) {
      if (n.callFrame.functionName !== f.name || !n.callFrame.url.endsWith('server.mjs')) continue;
      for (const t of n.positionTicks ?? []) {
        ticks.set(t.line, (ticks.get(t.line) ?? 0) + t.ticks);
        total += t.ticks;
      }
    }
    if (total === 0) continue;
    out.push(`${f.name} (${f.pct}% of busy):`);
    for (const [line, n] of [...ticks].sort((a, b) => b[1] - a[1]).slice(0, perFunction))
      out.push(`  ${String(Math.round((n / total) * 100)).padStart(3)}%  ${lines[line - 1]?.trim().slice(0, 140) ?? ''}`);
  }
  return out;
}

function print(file: string, rows = 25, script?: string): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const { busyMs, idleMs, top } = topFunctions(profile);
  console.log(`\n${relative(ROOT, file)}: busy ${busyMs} ms, idle ${idleMs} ms (${Math.round((busyMs / Math.max(1, busyMs + idleMs)) * 100)}% busy)\n`);
  console.log(`${'self %'.padStart(7)}  ${'self ms'.padStart(8)}  function (file:line)`);
  for (const f of top.slice(0, rows)) console.log(`${f.pct.toFixed(1).padStart(7)}  ${f.selfMs.toFixed(1).padStart(8)}  ${f.name}  ${f.where}`);
  console.log('\ntop five (markdown):\n\n| # | function | where | self % of busy |\n| ---: | --- | --- | ---: |');
  top.slice(0, 5).forEach((f, i) => console.log(`| ${i + 1} | \`${f.name}\` | ${f.where || '(native)'} | ${f.pct} |`));
  if (script) {
    const ours = top.filter((f) => /server\.mjs:\d+$/.test(f.where)).slice(0, 6);
    console.log(`\nhottest lines of our busiest functions (${relative(ROOT, script)}):\n`);
    for (const line of hotLines(profile, script, ours)) console.log(line);
  }
}

const args = process.argv.slice(2);
if (args[0] === '--read') {
  const server = args[1]!.replace(/\.cpuprofile$/, '.server.mjs');
  print(args[1]!, 25, existsSync(server) ? server : undefined);
  process.exit(0);
}
const [scenario = 'ingest', transport = scenario === 'fanout' ? 'memory' : 'redis'] = args;
const plans: Record<string, Record<string, string>> = {
  ingest: { BENCH_INGEST_PLAN: transport, BENCH_INGEST_SECONDS: process.env.BENCH_INGEST_SECONDS ?? '8' },
  e2e: { BENCH_E2E_TRANSPORTS: transport, BENCH_E2E_STEPS: process.env.BENCH_E2E_STEPS ?? '2000', BENCH_E2E_SECONDS: process.env.BENCH_E2E_SECONDS ?? '8' },
  // The top step only (the bench's default top: 20,000 or what the open-file limit allows), no floor run.
  fanout: { BENCH_FANOUT_STEPS: process.env.BENCH_FANOUT_STEPS ?? '20000', BENCH_FANOUT_SECONDS: process.env.BENCH_FANOUT_SECONDS ?? '8', BENCH_FANOUT_FLOOR: '0' },
};
if (!plans[scenario]) {
  console.error(`unknown scenario ${scenario}: one of ${Object.keys(plans).join(', ')}`);
  process.exit(2);
}
const dir = join(RESULTS_DIR, 'profiles');
const scratch = join(dir, `.run-${process.pid}`);
mkdirSync(scratch, { recursive: true });
console.log(`profiling ${scenario} on ${transport} (load average ${loadavg()[0]!.toFixed(1)})`);
// The server runs from one esbuild bundle of bench/server.ts, not through tsx: tsx's transform puts
// each module on one line, so a profile could only say which function, never which line. Same code,
// same dependencies (left as packages), names kept.
const script = join(scratch, 'server.mjs');
await build({ entryPoints: [join(BENCH_DIR, 'server.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', keepNames: true, outfile: script, logLevel: 'warning' });
const [cmd, cmdArgs] = nodeCommand(join(BENCH_DIR, `${scenario}.ts`));
const code = await new Promise<number | null>((resolve) => {
  const child = spawn(cmd, cmdArgs, {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...plans[scenario], BENCH_PROFILE_DIR: scratch, BENCH_SERVER_SCRIPT: script },
  });
  child.once('exit', resolve);
});
// One profile per measured run: keep the largest (the longest run).
const files = readdirSync(scratch).filter((f) => f.endsWith('.cpuprofile'));
if (files.length === 0) {
  console.error(`no profile written (scenario exited ${code})`);
  process.exit(1);
}
const biggest = files.map((f) => join(scratch, f)).sort((a, b) => readFileSync(b).length - readFileSync(a).length)[0]!;
const out = join(dir, `${scenario}-${transport}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
renameSync(biggest, out);
// BENCH_HEAP_PROFILE=1: the allocation profile of the same run goes beside it (bench/heap-top.ts reads it).
const heaps = readdirSync(scratch).filter((f) => f.endsWith('.heapprofile')).map((f) => join(scratch, f));
if (heaps.length > 0) {
  const heap = out.replace(/\.cpuprofile$/, '.heapprofile');
  renameSync(heaps.sort((a, b) => readFileSync(b).length - readFileSync(a).length)[0]!, heap);
  console.log(`wrote ${relative(ROOT, heap)}`);
}
const kept = out.replace(/\.cpuprofile$/, '.server.mjs');
renameSync(script, kept);
rmSync(scratch, { recursive: true, force: true });
console.log(`\nwrote ${relative(ROOT, out)} (${basename(out)}) and the server it profiled, ${basename(kept)}`);
print(out, 25, kept);
