// Shared by every scenario: percentiles, aligned tables on stdout, JSON + markdown results on disk.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = join(BENCH_DIR, '..');
export const RESULTS_DIR = join(BENCH_DIR, 'results');

export type Cell = string | number | boolean | null | undefined;
export type Row = Record<string, Cell>;

export interface Table {
  readonly title: string;
  readonly rows: Row[];
  /** Column order; defaults to the keys of the rows, in first-seen order. */
  readonly columns?: string[];
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly startedAt: string;
  readonly durationS: number;
  readonly machine: { cpus: number; cpuModel: string; memGiB: number; node: string };
  /** The code measured: `git rev-parse --short HEAD`, `+dirty` when the work tree differs. */
  readonly commit: string;
  /** 1-minute load average at the start and the end: other work on the machine skews the figures. */
  readonly loadavg: { start: number; end: number };
  readonly tables: Table[];
  readonly notes: string[];
  /** One line for the final summary table. */
  readonly headline: string;
}

export interface Stats {
  n: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles over a sample (copied and sorted; fine for a few million numbers). */
export function stats(samples: ArrayLike<number>): Stats {
  const n = samples.length;
  if (n === 0) return { n: 0, p50: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return { n, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: sorted[n - 1]!, mean: sum / n };
}

/** A growable sample buffer that does not box numbers. */
export class Samples {
  private buf = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  view(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
  clear(): void {
    this.length = 0;
  }
}

/** Rounds for display: 3 significant-ish digits, integers as integers. */
export function fmt(v: number, digits = 1): number {
  if (!Number.isFinite(v)) return v;
  if (Math.abs(v) >= 100) return Math.round(v);
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

const columnsOf = (t: Table) => t.columns ?? [...new Set(t.rows.flatMap((r) => Object.keys(r)))];
const show = (c: Cell) => (c === null || c === undefined ? '' : typeof c === 'number' && Number.isNaN(c) ? '–' : String(c));

export function textTable(t: Table): string {
  const cols = columnsOf(t);
  const cells = t.rows.map((r) => cols.map((c) => show(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const numeric = cols.map((c) => t.rows.every((r) => r[c] === undefined || r[c] === null || typeof r[c] === 'number'));
  const pad = (s: string, i: number) => (numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const line = (row: string[]) => row.map(pad).join('  ').trimEnd();
  return [`== ${t.title}`, line(cols), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function markdownTable(t: Table): string {
  const cols = columnsOf(t);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `**${esc(t.title)}**`,
    '',
    `| ${cols.map(esc).join(' | ')} |`,
    `| ${cols.map((c) => (t.rows.every((r) => r[c] === undefined || typeof r[c] === 'number') ? '---:' : '---')).join(' | ')} |`,
    ...t.rows.map((r) => `| ${cols.map((c) => esc(show(r[c]))).join(' | ')} |`),
  ].join('\n');
}

export function printTable(t: Table): void {
  console.log(`\n${textTable(t)}`);
}

export function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

export function machine(): ScenarioResult['machine'] {
  const c = cpus();
  return { cpus: c.length, cpuModel: c[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

/** Collects a scenario's tables and notes, prints them as they come, writes `bench/results/<name>.json` at the end. */
export function scenario(name: string) {
  const started = Date.now();
  const load0 = Math.round(loadavg()[0]! * 10) / 10;
  const tables: Table[] = [];
  const notes: string[] = [];
  return {
    table(t: Table) {
      tables.push(t);
      printTable(t);
    },
    note(s: string) {
      notes.push(s);
      console.log(`note: ${s}`);
    },
    log(s: string) {
      console.log(`[${name} ${((Date.now() - started) / 1000).toFixed(1)}s] ${s}`);
    },
    write(headline: string): ScenarioResult {
      const result: ScenarioResult = {
        scenario: name,
        startedAt: new Date(started).toISOString(),
        durationS: Math.round((Date.now() - started) / 100) / 10,
        machine: machine(),
        commit: gitCommit(),
        loadavg: { start: load0, end: Math.round(loadavg()[0]! * 10) / 10 },
        tables,
        notes,
        headline,
      };
      mkdirSync(RESULTS_DIR, { recursive: true });
      writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
      console.log(`\n${name}: ${headline}\nwrote ${join('bench/results', `${name}.json`)} (${result.durationS} s)`);
      return result;
    },
  };
}

export function readResult(name: string): ScenarioResult | null {
  try {
    return JSON.parse(readFileSync(join(RESULTS_DIR, `${name}.json`), 'utf8')) as ScenarioResult;
  } catch {
    return null;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `done` every 100 ms until it is true or `maxMs` passed; returns the ms waited. */
export async function waitUntil(done: () => boolean | Promise<boolean>, maxMs: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < maxMs && !(await done())) await sleep(100);
  return Date.now() - t0;
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Resident set size in MiB. */
export const rssMiB = () => process.memoryUsage().rss / 2 ** 20;

/** The process's soft and hard RLIMIT_NOFILE, from /proc. */
export function openFileLimit(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const [soft, hard] = (line ?? '').trim().split(/\s{2,}/).slice(1, 3).map(Number);
    return { soft: soft ?? 1024, hard: hard ?? 1024 };
  } catch {
    return { soft: 1024, hard: 1024 };
  }
}
