// `npx tsx bench/heap-top.ts <file.heapprofile> [rows]`: where a sampled allocation profile
// (BENCH_HEAP_PROFILE=1 npm run profile -- …, written beside the .cpuprofile) says the bytes were
// allocated, by function (self), with each function's busiest caller. Allocation rate is what
// drives GC time on the hot path.
import { readFileSync } from 'node:fs';

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}
const [file, rowsArg = '25'] = process.argv.slice(2);
const root = (JSON.parse(readFileSync(file!, 'utf8')) as { head: HeapNode }).head;
const where = (n: HeapNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules\/)?/, '')}:${n.callFrame.lineNumber + 1}`;
const self = new Map<string, { bytes: number; callers: Map<string, number> }>();
let total = 0;
(function walk(n: HeapNode, parent: HeapNode | null) {
  if (n.selfSize > 0) {
    const e = self.get(where(n)) ?? { bytes: 0, callers: new Map() };
    e.bytes += n.selfSize;
    const c = parent ? where(parent) : '(root)';
    e.callers.set(c, (e.callers.get(c) ?? 0) + n.selfSize);
    self.set(where(n), e);
    total += n.selfSize;
  }
  for (const c of n.children) walk(c, n);
})(root, null);
console.log(`sampled ${(total / 2 ** 20).toFixed(1)} MiB\n   %   MiB  function (file:line)  <- busiest caller`);
for (const [name, e] of [...self].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(rowsArg))) {
  const [caller] = [...e.callers].sort((a, b) => b[1] - a[1]);
  console.log(`${((e.bytes / total) * 100).toFixed(1).padStart(5)} ${(e.bytes / 2 ** 20).toFixed(1).padStart(5)}  ${name}  <- ${caller?.[0]}`);
}
