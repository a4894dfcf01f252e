// `npm run bench` runs every scenario; `npm run bench -- <name> [<name>…]` runs those. Each scenario
// runs in its own child process (memory does not accumulate), one after another; then a summary
// table is printed and bench/results/summary.md is written from the scenarios' JSON results.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { nodeCommand } from './lib/child.ts';
import { BENCH_DIR, gitCommit, machine, markdownTable, printTable, readResult, RESULTS_DIR, ROOT, type Row } from './lib/report.ts';

const SCENARIOS: Record<string, { limitS: number; about: string }> = {
  ingest: { limitS: 300, about: 'HTTP GPS ingest vs bare Fastify, memory / Redis / Kafka, no lost points' },
  e2e: { limitS: 360, about: 'driver POST → rider socket latency, 2,000 and 5,000 updates/s, memory / Redis' },
  fanout: { limitS: 360, about: '1k–20k rider sockets: RSS per connection, delivery p99, event-loop delay' },
  match: { limitS: 240, about: 'nearest 10 drivers: rbush vs Redis GEOSEARCH vs linear scan, 10k / 100k drivers' },
  replay: { limitS: 300, about: 'rebuild rides read model + fleet from 1M Redis events' },
  scale: { limitS: 600, about: 'total server CPU per GPS point: 3 instances on one Redis vs 1 carrying the same load, GPS work broadcast and partitioned' },
  dispatch: { limitS: 240, about: 'nearest vs batched matching on one seeded city (low, balanced, surge), and a 1,000 × 5,000 window' },
};

const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = asked.filter((a) => !(a in SCENARIOS));
if (unknown.length) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}. Known: ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}
const names = asked.length ? asked : Object.keys(SCENARIOS);
mkdirSync(RESULTS_DIR, { recursive: true });

function runOne(name: string): Promise<{ code: number | null; seconds: number; timedOut: boolean }> {
  const [cmd, args] = nodeCommand(join(BENCH_DIR, `${name}.ts`));
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    let timedOut = false;
    // The whole process group: the scenario's own children (servers, redis) go with it.
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`\n${name}: over its ${SCENARIOS[name]!.limitS} s limit, stopping it`);
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 5_000).unref();
    }, SCENARIOS[name]!.limitS * 1000);
    const onSignal = () => {
      kill('SIGKILL');
      process.exit(130);
    };
    process.once('SIGINT', onSignal);
    child.once('exit', (code) => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      resolve({ code, seconds: Math.round((Date.now() - started) / 100) / 10, timedOut });
    });
  });
}

const started = Date.now();
const summary: Row[] = [];
const ran = new Set<string>();
for (const name of names) {
  console.log(`\n######## ${name}: ${SCENARIOS[name]!.about}  (load average ${loadavg()[0]!.toFixed(1)})\n`);
  const before = readResult(name)?.startedAt;
  const { code, seconds, timedOut } = await runOne(name);
  const result = readResult(name);
  const fresh = result && result.startedAt !== before;
  ran.add(name);
  summary.push({
    scenario: name,
    status: timedOut ? 'timed out' : code === 0 && fresh ? 'ok' : `failed (exit ${code})`,
    seconds,
    'load avg': fresh ? `${result.loadavg.start}→${result.loadavg.end}` : '',
    result: fresh ? result.headline : '',
  });
}
const totalS = Math.round((Date.now() - started) / 1000);

printTable({ title: `bench summary (${totalS} s total)`, rows: summary });

// summary.md: every scenario's latest result (this run's, or an earlier one, marked as such).
const m = machine();
const md: string[] = [
  '# Ridecast benchmarks',
  '',
  `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, Node ${m.node}. Written ${new Date().toISOString()} by \`npm run bench${asked.length ? ` -- ${asked.join(' ')}` : ''}\` (${totalS} s) at commit ${gitCommit()}.`,
  '',
  markdownTable({ title: 'Summary (this run)', rows: summary }),
];
for (const name of Object.keys(SCENARIOS)) {
  const r = readResult(name);
  if (!r) continue;
  md.push('', `## ${name}${ran.has(name) ? '' : ' (from an earlier run)'}`, '', `${SCENARIOS[name]!.about}. Run ${r.startedAt} (commit ${r.commit ?? '?'}), ${r.durationS} s, load average ${r.loadavg?.start ?? '?'} → ${r.loadavg?.end ?? '?'}.`);
  for (const t of r.tables) md.push('', markdownTable(t));
  if (r.notes.length) md.push('', ...r.notes.map((n) => `- ${n}`));
}
writeFileSync(join(RESULTS_DIR, 'summary.md'), `${md.join('\n')}\n`);
console.log(`\nwrote bench/results/summary.md`);
process.exit(summary.every((r) => r.status === 'ok') ? 0 : 1);
