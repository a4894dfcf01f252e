// Screening on a recorded trace (issue 15, session 6): a long, hostile, seeded drive of several
// drivers (one point per request and batches, out of order, resent, jumps, conflicts, stale and
// future points, too-frequent fixes, windows that fill, points read back from another instance)
// gives exactly the verdicts the screening gave before its window stopped being copied per request.
// The fixture was written by the code before that change (UPDATE_TRACE=1 writes it again).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { observePoint, recentOf, screenPoints, type DriverFix } from '../domain/tracking/clean.ts';
import type { GpsPoint } from '../domain/tracking/point.ts';

const FIXTURE = new URL('./fixtures/screening-trace.json', import.meta.url);
const NOW = 1_700_000_000_000;

/** mulberry32: the same trace on every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every request's verdicts, one line each: accepted (time, late) and rejected (index, code), and the window's size and ends after it. */
function replay(): string[] {
  const rnd = prng(15);
  const out: string[] = [];
  const drivers = Array.from({ length: 4 }, (_, d) => ({ fix: null as DriverFix | null, t: NOW - 500_000, lat: 52.5 + d * 0.01, lng: 13.4, sent: [] as GpsPoint[] }));
  for (let step = 0; step < 3_000; step++) {
    const d = drivers[Math.floor(rnd() * drivers.length)]!;
    const batch: GpsPoint[] = [];
    const n = rnd() < 0.7 ? 1 : 1 + Math.floor(rnd() * 6);
    for (let k = 0; k < n; k++) {
      const r = rnd();
      let p: GpsPoint;
      if (r < 0.08 && d.sent.length > 0) p = d.sent[Math.floor(rnd() * d.sent.length)]!; // resent (duplicate, or late if it was refused)
      else if (r < 0.12 && d.sent.length > 0) p = { ...d.sent[Math.floor(rnd() * d.sent.length)]!, lat: d.lat + 0.001 }; // another place, same time
      else if (r < 0.16) p = { lat: d.lat + 0.5, lng: d.lng, recordedAt: d.t + 1_000, heading: null, speed: null, accuracy: 5 }; // a jump
      else if (r < 0.19) p = { lat: d.lat, lng: d.lng, recordedAt: d.t - Math.floor(rnd() * 400_000), heading: null, speed: null, accuracy: 5 }; // late, maybe beyond the window
      else if (r < 0.21) p = { lat: d.lat, lng: d.lng, recordedAt: NOW + 60_000, heading: null, speed: null, accuracy: 5 }; // from the future
      else if (r < 0.23) p = { lat: d.lat, lng: d.lng, recordedAt: d.t + 1_000, heading: null, speed: null, accuracy: 500 }; // low accuracy
      else if (r < 0.25) p = { lat: 91, lng: d.lng, recordedAt: d.t + 1_000, heading: null, speed: null, accuracy: 5 }; // invalid
      else if (r < 0.28) p = { lat: d.lat, lng: d.lng + 0.00001, recordedAt: d.t + 200, heading: null, speed: null, accuracy: 5 }; // too frequent
      else {
        d.t += 500 + Math.floor(rnd() * 1_500);
        d.lat += (rnd() - 0.5) * 0.0002;
        d.lng += (rnd() - 0.3) * 0.0003;
        p = { lat: d.lat, lng: d.lng, recordedAt: d.t, heading: 90, speed: 8, accuracy: 5 + Math.floor(rnd() * 20) };
      }
      batch.push(p);
      d.sent.push(p);
      if (d.sent.length > 600) d.sent.shift();
    }
    // Sometimes another instance accepted a point of this driver: it is read back (observePoint).
    if (rnd() < 0.05) {
      d.t += 1_000;
      d.fix = observePoint(d.fix, { lat: d.lat, lng: d.lng, recordedAt: d.t, heading: null, speed: null, accuracy: 5 });
    }
    const r = screenPoints(d.fix, batch, NOW);
    d.fix = r.latest;
    const w = d.fix ? recentOf(d.fix) : [];
    out.push(
      `${r.accepted.map((p) => `${p.recordedAt - NOW}${p.late ? 'L' : ''}`).join(',')}|${r.rejected.map((x) => `${x.index}:${x.code}`).join(',')}|${w.length}:${w[0]?.recordedAt ?? ''}-${w.at(-1)?.recordedAt ?? ''}:${d.fix ? d.fix.latest.recordedAt : ''}`,
    );
  }
  return out;
}


describe('screening on a recorded trace', () => {
  it('gives the verdicts it gave before (every request: accepted and late, rejected and why, the window after it)', () => {
    const lines = replay();
    if (process.env.UPDATE_TRACE === '1' || !existsSync(FIXTURE)) writeFileSync(FIXTURE, JSON.stringify(lines, null, 0).replaceAll('","', '",\n"') + '\n');
    const expected = JSON.parse(readFileSync(FIXTURE, 'utf8')) as string[];
    const codes = new Set(lines.flatMap((l) => l.split('|')[1]!.split(',').filter(Boolean).map((x) => x.split(':')[1])));
    // The trace exercises every rule, and late points on the track.
    expect([...codes].sort()).toEqual(['CONFLICTING_POINT', 'DUPLICATE_POINT', 'FUTURE_POINT', 'IMPLAUSIBLE_TRACK', 'IMPOSSIBLE_SPEED', 'INVALID_POINT', 'LOW_ACCURACY', 'STALE_POINT', 'TOO_FREQUENT']);
    expect(lines.some((l) => l.split('|')[0]!.includes('L'))).toBe(true);
    expect(lines).toEqual(expected);
  });
});
