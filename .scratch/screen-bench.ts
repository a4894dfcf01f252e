import { screenPoints, observePoint, type DriverFix } from '/work/wt/inproc/domain/tracking/clean.ts';
const NOW0 = 1_700_000_000_000;
const N = 200_000;
let fix: DriverFix | null = null;
const pts = Array.from({ length: N }, (_, i) => ({ lat: 52.52, lng: 13.3 + i * 2 / 67000, recordedAt: NOW0 + i * 1000, heading: 90, speed: 8, accuracy: 5 }));
const rules = {};
function run(n: number) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const p = pts[i]!;
    const r = screenPoints(fix, [p], p.recordedAt);
    if (r.accepted.length !== 1) throw new Error('rejected ' + JSON.stringify(r.rejected));
    fix = r.latest;
    fix = observePoint(fix, p);
  }
  return Number(process.hrtime.bigint() - t) / n / 1000;
}
run(20000); fix = null;
console.log('µs/pt', run(N).toFixed(2));
