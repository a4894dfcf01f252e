// match: nearest 10 eligible drivers around a pickup, 10k and 100k drivers: the rbush fleet index
// (projections/fleet makeFleet().nearest with the matcher's freshness/availability filter) vs Redis
// GEOSEARCH … BYRADIUS 1 km / 5 km ASC COUNT 10 vs a linear scan, in one run.
import { Redis } from 'ioredis';
import type { DriverEvent } from '../domain/driver/index.ts';
import { defaultMatchPolicy } from '../domain/matching/policy.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import type { LocationRecorded } from '../domain/tracking/events.ts';
import { makeFleet, type Fleet, type FleetDriver } from '../projections/fleet/index.ts';
import RBush from 'rbush';
import knn from 'rbush-knn';
import { isFree } from '../domain/driver/index.ts';
import type { Candidate } from '../domain/matching/policy.ts';
import { startRedis } from './lib/infra.ts';
import { createRandom } from '../src/simulator/random.ts';
import { fmt, scenario, stats, type Row } from './lib/report.ts';

const SIZES = (process.env.BENCH_MATCH_SIZES ?? '10000,100000').split(',').map(Number);
const RADII = [1_000, 5_000];
const QUERIES = 2_000;
const LIMIT = 10;
const CENTER = { lat: 52.52, lng: 13.405 };
const SPAN = { lat: 0.15, lng: 0.25 }; // about 33 km × 34 km

const s = scenario('match');

/** The simulator's seeded generator (mulberry32): the same city every run. */
const rng = (seed: number) => createRandom(seed).next;

const meta = (stream: 'drivers' | 'driver-locations', key: string, version: number, at: number) => ({
  eventId: `${stream}:${key}-${version}`, stream, position: `${at}-${version}`, key, version, recordedAtMs: at,
});

interface Built {
  fleet: Fleet;
  eligibleCount: number;
  buildMs: number;
}

/** 70% free and fresh, 10% on a trip, 10% offline, 10% with a stale fix (older than the policy's freshness). */
function buildFleet(n: number, now: number): Built {
  const fleet = makeFleet();
  const rand = rng(n);
  let eligibleCount = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const driverId = `d${i}`;
    const kind = rand();
    const lat = CENTER.lat + (rand() * 2 - 1) * SPAN.lat;
    const lng = CENTER.lng + (rand() * 2 - 1) * SPAN.lng;
    const recordedAt = kind >= 0.9 ? now - defaultMatchPolicy.freshnessMs - 60_000 : now - Math.floor(rand() * 5_000);
    const point = { type: 'LocationRecorded', data: { driverId, lat, lng, recordedAt, heading: null, speed: null, accuracy: 5, rideId: null, late: false }, metadata: meta('driver-locations', driverId, 0, now) } as Recorded<LocationRecorded>;
    fleet.moveDriver(point, { lat, lng, heading: null, speed: null });
    const available = !(kind >= 0.8 && kind < 0.9);
    fleet.applyDriverEvent({ type: 'DriverAvailabilityChanged', data: { driverId, available, at: now }, metadata: meta('drivers', driverId, 1, now) } as Recorded<DriverEvent>);
    if (kind >= 0.7 && kind < 0.8)
      fleet.applyDriverEvent({ type: 'DriverAssigned', data: { driverId, rideId: `r${i}`, at: now }, metadata: meta('drivers', driverId, 2, now) } as Recorded<DriverEvent>);
    if (kind < 0.7) eligibleCount++;
  }
  fleet.settle(); // the tree is loaded when first asked: count that in the build
  return { fleet, eligibleCount, buildMs: performance.now() - t0 };
}

/** The matcher's filter (src/app/matcher.ts), minus the per-ride passed-by list. */
const eligible = (now: number) => (d: FleetDriver) =>
  d.available && !d.rideId && !d.offeredRideId && !!d.position && now - d.position.recordedAt <= defaultMatchPolicy.freshnessMs;

const RAD = Math.PI / 180;
const DEG_M = 111_195;

/** What there is without an index: every driver, filter, distance, keep the best 10. */
function linearNearest(all: readonly FleetDriver[], at: { lat: number; lng: number }, limit: number, maxMeters: number, ok: (d: FleetDriver) => boolean): string[] {
  const cos = Math.cos(at.lat * RAD);
  const max2 = (maxMeters / DEG_M) ** 2;
  const best: { id: string; d2: number }[] = [];
  for (const d of all) {
    if (!ok(d)) continue;
    const p = d.position!;
    const dx = (p.lng - at.lng) * cos;
    const dy = p.lat - at.lat;
    const d2 = dx * dx + dy * dy;
    if (d2 > max2 || (best.length === limit && d2 >= best[limit - 1]!.d2)) continue;
    let i = best.length === limit ? limit - 1 : best.length;
    if (best.length < limit) best.push({ id: d.driverId, d2 });
    while (i > 0 && best[i - 1]!.d2 > d2) {
      best[i] = best[i - 1]!;
      i--;
    }
    best[i] = { id: d.driverId, d2 };
  }
  return best.map((b) => b.id);
}

function time<T>(fn: () => T): [T, number] {
  const t0 = process.hrtime.bigint();
  const out = fn();
  return [out, Number(process.hrtime.bigint() - t0) / 1000];
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const out = await fn();
  return [out, Number(process.hrtime.bigint() - t0) / 1000];
}

/** The fleet's plane: x = lng·cos(φ₀) with φ₀ the first fix it saw. */
const all0Lat = (fleet: Fleet) => [...fleet.all()][0]!.position!.lat;

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

interface Timed { lat: number[]; found: number; agree: number; compared: number; cpuUs?: number; settled?: string }

/**
 * A live city: between two queries MOVES_PER_QUERY drivers report a point (each drives on along its
 * own heading, ~40 m per point: 10 m/s every 4 s), and the query settles them. 100k drivers at one
 * point per 4 s is 25,000 points/s; 100 moves per query is 250 queries/s. 'now' is fleet.nearest
 * (moves within a leaf's box are done at moveDriver, off the query); 'before' is the index as it was
 * (rbush-knn, each moved driver removed + inserted by the next query). Timed and CPU: the query only.
 */
const MOVES_PER_QUERY = 100;
function liveQueries(n: number, now: number, points: { lat: number; lng: number }[], radius: number, ok: (d: FleetDriver) => boolean, variant: 'now' | 'before'): Timed {
  const fleet = buildFleet(n, now).fleet;
  const drivers = [...fleet.all()].filter((d) => d.position);
  const xs = Math.cos(all0Lat(fleet) * RAD);
  type BeforeItem = { minX: number; minY: number; maxX: number; maxY: number; d: FleetDriver };
  const before = new RBush<BeforeItem>();
  const beforeItems = new Map<FleetDriver, BeforeItem>();
  const pending = new Set<FleetDriver>();
  if (variant === 'before') {
    for (const d of drivers) if (d.available) beforeItems.set(d, { minX: d.position!.lng * xs, maxX: d.position!.lng * xs, minY: d.position!.lat, maxY: d.position!.lat, d });
    before.load([...beforeItems.values()]);
  }
  const rand = rng(11 + n);
  const heading = drivers.map(() => rand() * 2 * Math.PI);
  const counts0 = fleet.settleCounts();
  const lat: number[] = [];
  let found = 0;
  let cpu = 0;
  let t = now;
  for (let q = 0; q < QUERIES; q++) {
    t += 4;
    for (let j = 0; j < MOVES_PER_QUERY; j++) {
      const i = Math.floor(rand() * drivers.length);
      const d = drivers[i]!;
      const p = d.position!;
      const la = p.lat + (Math.cos(heading[i]!) * 40) / DEG_M;
      const ln = p.lng + (Math.sin(heading[i]!) * 40) / (DEG_M * xs);
      fleet.moveDriver({ type: 'LocationRecorded', data: { driverId: d.driverId, lat: la, lng: ln, recordedAt: Math.max(t, p.recordedAt + 1), heading: null, speed: null, accuracy: 5, rideId: null, late: false }, metadata: meta('driver-locations', d.driverId, 0, t) } as Recorded<LocationRecorded>, { lat: la, lng: ln, heading: null, speed: null });
      if (variant === 'before' && beforeItems.has(d)) pending.add(d);
    }
    const at = points[q]!;
    const c0 = process.cpuUsage();
    const [c, us] = time(() => {
      if (variant === 'now') return fleet.nearest(at, LIMIT, radius, ok);
      for (const d of pending) {
        const item = beforeItems.get(d)!;
        before.remove(item);
        item.minX = item.maxX = d.position!.lng * xs;
        item.minY = item.maxY = d.position!.lat;
        before.insert(item);
      }
      pending.clear();
      return knn(before, at.lng * xs, at.lat, LIMIT, (it: BeforeItem) => ok(it.d), radius / DEG_M);
    });
    const used = process.cpuUsage(c0);
    cpu += used.user + used.system;
    lat.push(us);
    found += c.length;
  }
  const counts = fleet.settleCounts();
  const settled = variant === 'now' ? `${counts.inPlace - counts0.inPlace} / ${counts.oneByOne - counts0.oneByOne} / ${counts.bulkLoads - counts0.bulkLoads}` : `0 / ${QUERIES * MOVES_PER_QUERY} / 0`;
  return { lat: lat.slice(100), found: found / QUERIES, agree: 0, compared: 0, cpuUs: cpu / QUERIES, settled };
}

const redisServer = await startRedis();
const redis = new Redis(redisServer.url);
const rows: Row[] = [];
const buildRows: Row[] = [];
try {
  // Baseline: one round trip to this Redis.
  const ping: number[] = [];
  for (let i = 0; i < 2_000; i++) ping.push((await timeAsync(() => redis.ping()))[1]);
  const pingSt = stats(ping.slice(200));
  rows.push({ drivers: '', method: 'redis PING (round trip)', radius: '', 'p50 µs': fmt(pingSt.p50), 'p99 µs': fmt(pingSt.p99), 'mean µs': fmt(pingSt.mean) });

  for (const n of SIZES) {
    const now = Date.now();
    s.log(`${n} drivers: building`);
    const { fleet, eligibleCount, buildMs } = buildFleet(n, now);
    // Before (the index as it was until this change): every online driver with a position, on a
    // trip or not, inserted one by one as events came; the same search (rbush-knn), filter and
    // output (fleet.nearest's candidates), on the same plane (the fleet's reference latitude).
    const xs = Math.cos(all0Lat(fleet) * RAD);
    type BeforeItem = { minX: number; minY: number; maxX: number; maxY: number; d: FleetDriver };
    const beforeTree = new RBush<BeforeItem>();
    for (const d of fleet.all()) if (d.available && d.position) beforeTree.insert({ minX: d.position.lng * xs, maxX: d.position.lng * xs, minY: d.position.lat, maxY: d.position.lat, d });
    const beforeNearest = (at: { lat: number; lng: number }, limit: number, maxMeters: number, filter: (d: FleetDriver) => boolean): Candidate[] =>
      knn(beforeTree, at.lng * xs, at.lat, limit, (it: BeforeItem) => filter(it.d), maxMeters / DEG_M).map(({ d }) => ({
        driverId: d.driverId, lat: d.position!.lat, lng: d.position!.lng, fixAt: d.position!.recordedAt, free: isFree(d, now), idleSince: d.idleSince, missedOffersAt: d.missedOffersAt,
      }));
    // The library on a tree of the same drivers (offerable, bulk-loaded, rbush's default node size, tight
    // boxes): what the kNN search alone changed, beside the fleet's own.
    const sameTree = new RBush<BeforeItem>();
    sameTree.load([...fleet.all()].filter((d) => d.available && !d.rideId && d.position).map((d) => ({ minX: d.position!.lng * xs, maxX: d.position!.lng * xs, minY: d.position!.lat, maxY: d.position!.lat, d })));
    const libraryNearest = (at: { lat: number; lng: number }, limit: number, maxMeters: number, filter: (d: FleetDriver) => boolean): Candidate[] =>
      knn(sameTree, at.lng * xs, at.lat, limit, (it: BeforeItem) => filter(it.d), maxMeters / DEG_M).map(({ d }) => ({
        driverId: d.driverId, lat: d.position!.lat, lng: d.position!.lng, fixAt: d.position!.recordedAt, free: isFree(d, now), idleSince: d.idleSince, missedOffersAt: d.missedOffersAt,
      }));
    // After, with the tree reshaped by moves: a second fleet from the same events in which 40% of
    // the drivers then moved a little, settled 1,000 at a time (removed + inserted one by one, below
    // the threshold at which the index reloads in bulk).
    const moved = buildFleet(n, now).fleet;
    {
      const ids = [...moved.all()].map((d) => d.driverId);
      const rand = rng(3 + n);
      for (let i = 0; i < Math.floor(ids.length * 0.4); i++) {
        const d = moved.get(ids[i]!)!;
        if (!d.position) continue;
        const lat = d.position.lat + (rand() - 0.5) * 4e-3;
        const lng = d.position.lng + (rand() - 0.5) * 6e-3;
        const recordedAt = d.position.recordedAt + 1;
        moved.moveDriver({ type: 'LocationRecorded', data: { driverId: d.driverId, lat, lng, recordedAt, heading: null, speed: null, accuracy: 5, rideId: null, late: false }, metadata: meta('driver-locations', d.driverId, 0, now) } as Recorded<LocationRecorded>, { lat, lng, heading: null, speed: null });
        if (i % 1_000 === 999) moved.settle();
      }
      moved.settle();
    }
    const all = [...fleet.all()];
    const ok = eligible(now);
    // The Redis GEO projection holds only available, free, fresh drivers (it sweeps stale ones).
    const key = `bench:{geo}:${n}`;
    const g0 = performance.now();
    const members = all.filter(ok);
    for (let i = 0; i < members.length; i += 1_000) {
      const args: (string | number)[] = [];
      for (const d of members.slice(i, i + 1_000)) args.push(d.position!.lng, d.position!.lat, d.driverId);
      await redis.call('GEOADD', key, ...args);
    }
    const geoMs = performance.now() - g0;
    buildRows.push({ drivers: n, eligible: eligibleCount, 'rbush indexed': fleet.indexedCount(), 'before: indexed': beforeTree.all().length, 'fleet build ms (events)': fmt(buildMs), 'µs/driver': fmt((buildMs * 1000) / n, 2), 'redis GEOADD ms (batches of 1000)': fmt(geoMs) });

    const rand = rng(7 + n);
    const points = Array.from({ length: QUERIES }, () => ({ lat: CENTER.lat + (rand() * 2 - 1) * SPAN.lat * 0.8, lng: CENTER.lng + (rand() * 2 - 1) * SPAN.lng * 0.8 }));
    for (const radius of RADII) {
      const linearQueries = n >= 100_000 ? 100 : 500;
      const warm = n >= 100_000 ? 10 : 50;
      const results: Record<string, Timed> = {};
      const cpuOf = (c: NodeJS.CpuUsage, n: number) => (c.user + c.system) / n;
      const linearIds: string[][] = [];
      // Linear scan first: it is also the reference the other two are checked against.
      {
        const lat: number[] = [];
        let found = 0;
        const cpu0 = process.cpuUsage();
        for (let q = 0; q < linearQueries + warm; q++) {
          const [ids, us] = time(() => linearNearest(all, points[q]!, LIMIT, radius, ok));
          if (q >= warm) {
            lat.push(us);
            found += ids.length;
          }
          linearIds[q] = ids;
        }
        results.linear = { lat, found: found / linearQueries, agree: linearQueries, compared: linearQueries, cpuUs: cpuOf(process.cpuUsage(cpu0), linearQueries + warm) };
      }
      const timeFleet = (f: Pick<Fleet, 'nearest'>) => {
        const lat: number[] = [];
        let found = 0;
        let agree = 0;
        let compared = 0;
        const cpu0 = process.cpuUsage();
        for (let q = 0; q < QUERIES; q++) {
          const [c, us] = time(() => f.nearest(points[q]!, LIMIT, radius, ok));
          lat.push(us);
          found += c.length;
          if (q < linearQueries + warm) {
            compared++;
            if (sameSet(c.map((x) => x.driverId), linearIds[q]!)) agree++;
          }
        }
        return { lat: lat.slice(100), found: found / QUERIES, agree, compared, cpuUs: cpuOf(process.cpuUsage(cpu0), QUERIES) };
      };
      // Alternated, twice each, so neither has the machine to itself; the second round is reported.
      results.before = timeFleet({ nearest: beforeNearest });
      results.library = timeFleet({ nearest: libraryNearest });
      results.rbush = timeFleet(fleet);
      results.moved = timeFleet(moved);
      results.before = timeFleet({ nearest: beforeNearest });
      results.library = timeFleet({ nearest: libraryNearest });
      results.rbush = timeFleet(fleet);
      results.moved = timeFleet(moved);
      // The machine's own tail: a busy loop of about a query's CPU, timed the same way, in the same run.
      // What it shows at p99 is preemption and interrupts, not the index.
      {
        let x = 0;
        const spin = (loops: number) => { for (let i = 0; i < loops; i++) x = (x * 1.000001 + i) | 0; };
        const c0 = process.cpuUsage();
        spin(5_000_000);
        const c1 = process.cpuUsage(c0);
        const loops = Math.max(1, Math.round((results.rbush!.cpuUs! * 5_000_000) / (c1.user + c1.system)));
        const lat: number[] = [];
        const cpu0 = process.cpuUsage();
        for (let q = 0; q < QUERIES; q++) lat.push(time(() => spin(loops))[1]);
        results.floor = { lat: lat.slice(100), found: x === 0.5 ? 1 : 0, agree: 0, compared: 0, cpuUs: cpuOf(process.cpuUsage(cpu0), QUERIES) };
      }
      if (radius === RADII[0]) {
        results.live = liveQueries(n, now, points, radius, ok, 'now');
        results.liveBefore = liveQueries(n, now, points, radius, ok, 'before');
        results.live = liveQueries(n, now, points, radius, ok, 'now');
        results.liveBefore = liveQueries(n, now, points, radius, ok, 'before');
      }
      {
        const lat: number[] = [];
        let found = 0;
        let agree = 0;
        let compared = 0;
        for (let q = 0; q < QUERIES; q++) {
          const p = points[q]!;
          const [reply, us] = await timeAsync(
            () => redis.call('GEOSEARCH', key, 'FROMLONLAT', p.lng, p.lat, 'BYRADIUS', radius, 'm', 'ASC', 'COUNT', LIMIT, 'WITHDIST', 'WITHCOORD') as Promise<[string, string, string[]][]>,
          );
          lat.push(us);
          found += reply.length;
          if (q < linearQueries + warm) {
            compared++;
            if (sameSet(reply.map((x) => x[0]), linearIds[q]!)) agree++;
          }
        }
        results.redis = { lat: lat.slice(100), found: found / QUERIES, agree, compared };
      }
      const rb = stats(results.rbush!.lat);
      const live = results.live
        ? ([[`fleet.nearest with ${MOVES_PER_QUERY} GPS moves before each query (timed: the query, which settles them)`, results.live], [`before: rbush-knn, each query removes + inserts the ${MOVES_PER_QUERY} moved`, results.liveBefore!]] as const)
        : [];
      for (const [method, r] of [['rbush fleet.nearest: offerable drivers only, bulk-loaded', results.rbush!], ['rbush fleet.nearest, after 40% moved one by one', results.moved!], ['before: tree of every online driver (on-trip too), inserted one by one', results.before!], ['rbush-knn library on a tree of the same offerable drivers (bulk-loaded)', results.library!], ...live, ['machine floor: busy loop of a query\'s CPU', results.floor!], ['redis GEOSEARCH', results.redis!], ['linear scan', results.linear!]] as const) {
        const st = stats(r.lat);
        rows.push({
          drivers: n,
          method,
          radius: `${radius / 1000} km`,
          queries: st.n,
          'p50 µs': fmt(st.p50),
          'p99 µs': fmt(st.p99),
          'mean µs': fmt(st.mean),
          'cpu µs/query': r.cpuUs === undefined ? '' : fmt(r.cpuUs),
          'linear cpu ÷ this': r.cpuUs === undefined ? '' : fmt(results.linear!.cpuUs! / r.cpuUs, 0),
          'x rbush p50': fmt(st.p50 / rb.p50, 2),
          'x rbush p99': fmt(st.p99 / rb.p99, 2),
          'found avg': fmt(r.found, 1),
          'same 10 as linear': method === 'linear scan' || r.compared === 0 ? '' : `${fmt((r.agree / r.compared) * 100, 1)}%`,
          'settled in place / one by one / bulk': r.settled ?? '',
        });
      }
      s.log(`${n} drivers, ${radius} m: rbush p50 ${fmt(rb.p50)} µs, redis p50 ${fmt(stats(results.redis!.lat).p50)} µs, linear p50 ${fmt(stats(results.linear!.lat).p50)} µs`);
    }
    await redis.del(key);
  }
} finally {
  redis.disconnect();
  await redisServer.stop();
}

s.table({ title: 'match: fleet build', rows: buildRows });
s.table({ title: `match: nearest ${LIMIT} eligible drivers, sequential queries at random pickups in a ~33 × 34 km city`, rows });
s.note('Drivers: 70% free with a fresh fix, 10% on a trip, 10% offline, 10% with a fix older than the match policy\'s freshness. rbush and the linear scan apply the matcher\'s filter; the Redis GEO set holds only eligible drivers, as the Redis GEO projection keeps it (it sweeps stale fixes), so Redis does no filtering.');
s.note('Redis latency is a full round trip from this process (ioredis, one query at a time), with WITHDIST WITHCOORD as projections/geo/redis-geo.ts asks; the PING row is the round-trip floor. rbush and linear are in-process calls.');
s.note('cpu µs/query = this process\'s CPU time over the loop / queries, for the in-process methods: unlike wall-clock percentiles it does not grow when other work on the machine preempts the process.');
s.note(`The live rows: ${MOVES_PER_QUERY} drivers report a point (40 m along their own heading) between two queries; only the query is timed, with what it settles. "settled" counts the moves done in place (within their leaf's box, at moveDriver), removed + inserted one by one, and bulk loads. "before" removes + inserts every moved driver on the old tree (rbush-knn). cpu µs/query is measured around each query alone (process.cpuUsage, ~µs resolution).`);
s.note('The machine floor row times a busy loop of about one query\'s CPU the same way: its p99 is what the machine adds (preemption, interrupts), not the index.');
s.note('"same 10 as linear" compares the result sets with the linear scan (equirectangular distance); Redis measures haversine on a geohash grid, so a tie at the 10th place can differ.');
const head = rows.filter((r) => r.radius === '1 km' && String(r.method).startsWith('rbush fleet.nearest: '))
  .map((r) => `${r.drivers}: rbush p50 ${r['p50 µs']} µs`);
const redisHead = rows.filter((r) => r.radius === '1 km' && r.method === 'redis GEOSEARCH').map((r) => `redis ${r['p50 µs']} µs`);
const linHead = rows.filter((r) => r.radius === '1 km' && r.method === 'linear scan').map((r) => `linear ${r['p50 µs']} µs`);
s.write(head.map((h, i) => `${h} / ${redisHead[i]} / ${linHead[i]} (1 km)`).join('; '));
process.exit(0);
