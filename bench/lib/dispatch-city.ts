// A seeded, discrete-time city for comparing dispatch policies: no network, no event log, no wall
// clock. Time advances in fixed ticks; each tick riders appear (Poisson), offers are answered,
// drivers reach pickups and drop-offs, and the policy under test makes its offers with the same
// domain code the service runs (rankCandidates for `nearest`, planWindow for `batched`). The same
// seed gives the same city, the same demand and the same driver answers, so two policies differ
// only in their choices. KPIs come from src/simulator/kpis.ts, as in the live simulator.
import RBush from 'rbush';
import knn from 'rbush-knn';
import { maxPickupSeconds, planWindow, ringsFrom, type FairnessRules, type WindowDriver, type WindowRequest } from '../../domain/matching/dispatch.ts';
import { rankCandidates, type Candidate, type MatchPolicy } from '../../domain/matching/policy.ts';
import type { LatLng } from '../../domain/geo.ts';
import { straightLineEta } from '../../domain/tracking/eta.ts';
import { createDispatchKpis, type DispatchKpis } from '../../src/simulator/kpis.ts';
import { createRandom } from '../../src/simulator/random.ts';

export interface CityOptions {
  readonly seed: number;
  readonly policy: 'nearest' | 'batched';
  readonly drivers: number;
  readonly requestsPerSecond: number;
  /** Riders arrive for this long; the run then lets the last requests finish. */
  readonly durationS: number;
  readonly batchWindowMs: number;
  readonly matchPolicy: MatchPolicy;
  readonly matchTimeoutMs: number;
  readonly fairness: FairnessRules;
  /** How often a waiting request looks again under `nearest` (the matcher's retryMs). */
  readonly retryMs: number;
  readonly acceptProbability: number;
  /** Offers a driver never answers: they expire after the offer timeout. */
  readonly ignoreProbability: number;
}

const ORIGIN = { lat: 38.7223, lng: -9.1393 };
const M_LAT = 111_195;
const M_LNG = M_LAT * Math.cos((ORIGIN.lat * Math.PI) / 180);
const CITY_M = 10_000;
const TICK_MS = 250;
const toLatLng = (x: number, y: number): LatLng => ({ lat: ORIGIN.lat + y / M_LAT, lng: ORIGIN.lng + x / M_LNG });

interface Driver {
  id: string;
  x: number;
  y: number;
  state: 'free' | 'offered' | 'toPickup' | 'onTrip';
  freeSince: number;
  missed: number[];
  /** When the current state ends (an answer, the pickup, the drop-off). */
  until: number;
  ride: Ride | null;
  answer: 'accept' | 'decline' | 'ignore';
  item: { minX: number; minY: number; maxX: number; maxY: number; d: Driver } | null;
}

interface Ride {
  id: string;
  pickup: { x: number; y: number };
  dropoff: { x: number; y: number };
  requestedAt: number;
  passedBy: string[];
  rounds: number;
  status: 'waiting' | 'offered' | 'matched' | 'unmatched';
  windowsWaited: number;
  nextTryAt: number;
  etaSeconds: number;
}

export function runCity(o: CityOptions): DispatchKpis {
  const random = createRandom(o.seed);
  const answers = createRandom(o.seed ^ 0x5eed); // driver behaviour: the same for both policies
  const kpis = createDispatchKpis();
  const eta = straightLineEta();
  const tree = new RBush<NonNullable<Driver['item']>>();
  const clamp = (v: number) => Math.max(0, Math.min(CITY_M, v));
  const hotspots = Array.from({ length: 4 }, () => ({ x: random.between(2_000, 8_000), y: random.between(2_000, 8_000) }));
  const place = () => {
    if (random.chance(0.6)) {
      const h = random.pick(hotspots);
      return { x: clamp(h.x + random.gaussian() * 800), y: clamp(h.y + random.gaussian() * 800) };
    }
    return { x: random.between(0, CITY_M), y: random.between(0, CITY_M) };
  };

  const drivers: Driver[] = Array.from({ length: o.drivers }, (_, i) => ({
    id: `d${i}`, x: random.between(0, CITY_M), y: random.between(0, CITY_M), state: 'free', freeSince: 0, missed: [], until: 0, ride: null, answer: 'accept', item: null,
  }));
  const free = (d: Driver, at: number) => {
    d.state = 'free';
    d.freeSince = at;
    d.ride = null;
    d.item = { minX: d.x, minY: d.y, maxX: d.x, maxY: d.y, d };
    tree.insert(d.item);
  };
  const unindex = (d: Driver) => {
    if (d.item) tree.remove(d.item);
    d.item = null;
  };
  for (const d of drivers) free(d, 0);

  const waiting: Ride[] = [];
  let rideCount = 0;
  let windowOpenedAt: number | null = null;

  const near = (r: Ride, radius: number, k: number) =>
    knn(tree, r.pickup.x, r.pickup.y, k, (it) => !r.passedBy.includes(it.d.id), radius).map((it) => it.d);

  function offer(r: Ride, d: Driver, at: number, etaSeconds: number) {
    unindex(d);
    d.state = 'offered';
    d.ride = r;
    const roll = answers.next();
    d.answer = roll < o.ignoreProbability ? 'ignore' : roll < o.ignoreProbability + (1 - o.ignoreProbability) * o.acceptProbability ? 'accept' : 'decline';
    d.until = at + (d.answer === 'ignore' ? o.matchPolicy.offerTimeoutMs : answers.between(2_000, 8_000));
    r.status = 'offered';
    r.etaSeconds = etaSeconds;
    kpis.offered(r.id, at);
  }

  function nearestStep(at: number) {
    const maxRadius = o.matchPolicy.radiiMeters.at(-1) ?? 5_000;
    for (const r of waiting) {
      if (r.status !== 'waiting' || r.nextTryAt > at) continue;
      const found = near(r, maxRadius, o.matchPolicy.limit * 4);
      const candidates: Candidate[] = found.map((d) => ({ driverId: d.id, ...toLatLng(d.x, d.y), fixAt: at, free: true, idleSince: d.freeSince, missedOffersAt: d.missed }));
      const [best] = rankCandidates(toLatLng(r.pickup.x, r.pickup.y), candidates, { now: at, passedBy: r.passedBy, policy: o.matchPolicy, fairness: o.fairness });
      if (!best) {
        r.nextTryAt = at + o.retryMs;
        continue;
      }
      const d = found.find((x) => x.id === best.driverId)!;
      offer(r, d, at, eta.estimateSeconds(toLatLng(d.x, d.y), toLatLng(r.pickup.x, r.pickup.y), { speedMps: null }));
    }
  }

  function batchedStep(at: number) {
    const open = waiting.filter((r) => r.status === 'waiting');
    if (open.length === 0) return void (windowOpenedAt = null);
    windowOpenedAt ??= at;
    if (at - windowOpenedAt < o.batchWindowMs) return;
    const byId = new Map<string, Driver>();
    const requests: WindowRequest[] = open.map((r) => ({ rideId: r.id, pickup: toLatLng(r.pickup.x, r.pickup.y) }));
    const candidatesOf = (_: WindowRequest, i: number): WindowDriver[] => {
      const r = open[i]!;
      for (const radius of ringsFrom(o.matchPolicy.radiiMeters, r.windowsWaited)) {
        const found = near(r, radius, o.matchPolicy.limit * 2);
        if (found.length === 0) continue;
        return found.map((d) => {
          byId.set(d.id, d);
          return { driverId: d.id, ...toLatLng(d.x, d.y), speedMps: null, idleSince: d.freeSince, missedOffersAt: d.missed };
        });
      }
      return [];
    };
    const rules = { maxPickupSeconds: maxPickupSeconds(o.matchPolicy.radiiMeters, eta), fairness: o.fairness };
    const matches = planWindow(requests, candidatesOf, { eta, now: at, rules });
    const rideById = new Map(open.map((r) => [r.id, r]));
    for (const m of matches) offer(rideById.get(m.rideId)!, byId.get(m.driverId)!, at, m.etaSeconds);
    for (const r of open) if (r.status === 'waiting') r.windowsWaited++;
    windowOpenedAt = waiting.some((r) => r.status === 'waiting') ? at : null;
  }

  const endAt = o.durationS * 1000;
  const hardStop = endAt + o.matchTimeoutMs + 3_600_000;
  for (let at = 0; at < hardStop; at += TICK_MS) {
    if (at < endAt) {
      for (let n = random.poisson((o.requestsPerSecond * TICK_MS) / 1000); n > 0; n--) {
        const pickup = place();
        const angle = random.between(0, 2 * Math.PI);
        const km = random.between(1_000, 5_000);
        const r: Ride = {
          id: `r${++rideCount}`, pickup, dropoff: { x: clamp(pickup.x + Math.cos(angle) * km), y: clamp(pickup.y + Math.sin(angle) * km) },
          requestedAt: at, passedBy: [], rounds: 0, status: 'waiting', windowsWaited: 0, nextTryAt: at, etaSeconds: 0,
        };
        kpis.requested(r.id, at);
        waiting.push(r);
      }
    } else if (waiting.length === 0 && drivers.every((d) => d.state === 'free')) break;

    for (const d of drivers) {
      if (d.state === 'free' || d.until > at) continue;
      const r = d.ride!;
      if (d.state === 'offered') {
        if (d.answer === 'accept') {
          r.status = 'matched';
          kpis.accepted(r.id, at, r.etaSeconds);
          const meters = Math.hypot(d.x - r.pickup.x, d.y - r.pickup.y);
          d.state = 'toPickup';
          d.until = at + Math.round(((meters * 1.3) / answers.between(5, 9)) * 1000);
          continue;
        }
        if (d.answer === 'decline') kpis.declined();
        else kpis.expired();
        d.missed.push(at);
        if (d.missed.length > 8) d.missed.shift();
        r.passedBy.push(d.id);
        r.rounds++;
        r.status = 'waiting';
        r.nextTryAt = at;
        free(d, d.freeSince); // a refusal does not reset the idle clock
      } else if (d.state === 'toPickup') {
        kpis.pickedUp(r.id, at);
        d.x = r.pickup.x;
        d.y = r.pickup.y;
        d.state = 'onTrip';
        d.until = at + Math.round(((Math.hypot(r.dropoff.x - d.x, r.dropoff.y - d.y) * 1.3) / answers.between(5, 9)) * 1000);
      } else {
        d.x = r.dropoff.x;
        d.y = r.dropoff.y;
        free(d, at);
      }
    }
    // Give up on requests past their deadline or out of rounds, as the matcher does.
    for (const r of waiting)
      if (r.status === 'waiting' && (at - r.requestedAt >= o.matchTimeoutMs || r.rounds >= o.matchPolicy.maxRounds)) {
        r.status = 'unmatched';
        kpis.unmatched(r.id, at);
      }
    for (let i = waiting.length - 1; i >= 0; i--) if (waiting[i]!.status === 'matched' || waiting[i]!.status === 'unmatched') waiting.splice(i, 1);

    if (o.policy === 'nearest') nearestStep(at);
    else batchedStep(at);

    if (at < endAt) {
      let busy = 0;
      let idle = 0;
      for (const d of drivers) d.state === 'free' ? idle++ : d.state !== 'offered' && busy++;
      kpis.sampleDrivers(TICK_MS, { online: drivers.length, busy, idle });
    }
  }
  return kpis.summary();
}
