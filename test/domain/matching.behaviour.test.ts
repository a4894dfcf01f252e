import { describe, expect, it } from 'vitest';
import type { EtaEstimator } from '../../domain/tracking/eta.ts';
import { straightLineEta } from '../../domain/tracking/eta.ts';
import { defaultFairnessRules, fairnessSeconds, maxPickupSeconds, planWindow, ringsFrom, type WindowDriver } from '../../domain/matching/dispatch.ts';
import { defaultMatchPolicy, rankCandidates, type Candidate } from '../../domain/matching/policy.ts';
import { METERS_PER_DEGREE } from '../../domain/geo.ts';

const NOW = 1_800_000_000_000;
const MIN = 60_000;
const pickup = { lat: 0, lng: 0 };
/** A driver `meters` due north of a pickup on the equator. */
const north = (m: number) => ({ lat: m / METERS_PER_DEGREE, lng: 0 });
const cand = (driverId: string, m: number, extra: Partial<Candidate> = {}): Candidate => ({ driverId, ...north(m), fixAt: NOW, free: true, ...extra });

describe('fairness: what a driver’s recent record costs or earns them', () => {
  const r = defaultFairnessRules;

  it('the defaults: half a second per idle minute up to 10 s; 60 s per missed offer, at most 3, remembered 15 minutes', () => {
    expect(r).toEqual({ idleBonusSecondsPerMinute: 0.5, idleBonusMaxSeconds: 10, missedOfferPenaltySeconds: 60, missedOfferMaxCount: 3, missedOfferMemoryMs: 15 * MIN });
  });

  it('a driver with no record costs nothing', () => {
    expect(fairnessSeconds({}, NOW, r)).toBe(0);
    expect(fairnessSeconds({ idleSince: null, missedOffersAt: [] }, NOW, r)).toBe(0);
  });

  it('idle time earns a small bonus, capped', () => {
    expect(fairnessSeconds({ idleSince: NOW - 4 * MIN }, NOW, r)).toBe(-2);
    expect(fairnessSeconds({ idleSince: NOW - 20 * MIN }, NOW, r)).toBe(-10);
    expect(fairnessSeconds({ idleSince: NOW - 60 * MIN }, NOW, r)).toBe(-10);
  });

  it('an idle-since in the future (clock skew) earns nothing, and costs nothing', () => {
    expect(fairnessSeconds({ idleSince: NOW + 10 * MIN }, NOW, r)).toBe(0);
  });

  it('each missed offer costs a minute, up to three, and is forgotten after the memory', () => {
    expect(fairnessSeconds({ missedOffersAt: [NOW - MIN] }, NOW, r)).toBe(60);
    expect(fairnessSeconds({ missedOffersAt: [NOW, NOW, NOW, NOW, NOW] }, NOW, r)).toBe(180);
    expect(fairnessSeconds({ missedOffersAt: [NOW - 15 * MIN + 1] }, NOW, r)).toBe(60);
    expect(fairnessSeconds({ missedOffersAt: [NOW - 15 * MIN] }, NOW, r)).toBe(0);
  });

  it('penalty and bonus add up', () => {
    expect(fairnessSeconds({ missedOffersAt: [NOW], idleSince: NOW - 2 * MIN }, NOW, r)).toBe(59);
  });
});

describe('who is offered the ride (rankCandidates)', () => {
  const opts = { now: NOW, passedBy: [] as string[], policy: defaultMatchPolicy };

  it('the default policy: rings of 1, 3 and 8 km, fixes up to a minute old, five candidates, five rounds, 15 s offers', () => {
    expect(defaultMatchPolicy).toEqual({ radiiMeters: [1_000, 3_000, 8_000], freshnessMs: 60_000, limit: 5, maxRounds: 5, offerTimeoutMs: 15_000 });
  });

  it('a fix exactly the freshness old still counts, one millisecond older does not', () => {
    const got = rankCandidates(pickup, [cand('a', 100, { fixAt: NOW - 60_000 }), cand('b', 200, { fixAt: NOW - 60_001 })], opts);
    expect(got.map((d) => d.driverId)).toEqual(['a']);
  });

  it('busy drivers and drivers who passed on this ride are skipped', () => {
    const got = rankCandidates(pickup, [cand('busy', 100, { free: false }), cand('passed', 150), cand('ok', 300)], { ...opts, passedBy: ['passed'] });
    expect(got).toEqual([{ driverId: 'ok', distanceMeters: 300 }]);
  });

  it('returns at most `limit`, best first', () => {
    const many = Array.from({ length: 8 }, (_, i) => cand(`d${i}`, 900 - i * 100));
    const got = rankCandidates(pickup, many, { ...opts, policy: { ...defaultMatchPolicy, limit: 3 } });
    expect(got.map((d) => d.driverId)).toEqual(['d7', 'd6', 'd5']);
  });

  it('equally near drivers: the one idle longer first, then by id', () => {
    const got = rankCandidates(pickup, [cand('b', 500, { idleSince: NOW - 1000 }), cand('a', 500, { idleSince: NOW - 1000 }), cand('c', 500, { idleSince: NOW - 5000 })], opts);
    expect(got.map((d) => d.driverId)).toEqual(['c', 'a', 'b']);
    const noIdle = rankCandidates(pickup, [cand('z', 500), cand('y', 500), cand('x', 500, { idleSince: NOW - 1 })], opts);
    expect(noIdle.map((d) => d.driverId)).toEqual(['x', 'y', 'z']);
  });

  it('with fairness, a missed offer counts as 360 m further (60 s at 6 m/s), but the reported distance is the real one', () => {
    const fair = { ...opts, fairness: defaultFairnessRules };
    const got = rankCandidates(pickup, [cand('missed', 100, { missedOffersAt: [NOW] }), cand('b', 450)], fair);
    expect(got).toEqual([{ driverId: 'b', distanceMeters: 450 }, { driverId: 'missed', distanceMeters: 100 }]);
    const close = rankCandidates(pickup, [cand('missed', 100, { missedOffersAt: [NOW] }), cand('b', 470)], fair);
    expect(close.map((d) => d.driverId)).toEqual(['missed', 'b']);
  });

  it('with fairness, the ring is still judged by the real distance', () => {
    const got = rankCandidates(pickup, [cand('missed', 900, { missedOffersAt: [NOW, NOW, NOW] }), cand('far', 2_000)], { ...opts, fairness: defaultFairnessRules });
    expect(got.map((d) => d.driverId)).toEqual(['missed']);
  });
});

describe('the batching window', () => {
  const eta = straightLineEta();
  const drv = (driverId: string, m: number, extra: Partial<WindowDriver> = {}): WindowDriver => ({ driverId, ...north(m), speedMps: null, ...extra });

  it('a request waiting longer searches from a wider ring, never past the widest', () => {
    const radii = [1_000, 3_000, 8_000];
    expect(ringsFrom(radii, 0)).toEqual([1_000, 3_000, 8_000]);
    expect(ringsFrom(radii, 1)).toEqual([3_000, 8_000]);
    expect(ringsFrom(radii, 2)).toEqual([8_000]);
    expect(ringsFrom(radii, 9)).toEqual([8_000]);
    expect(ringsFrom([], 3)).toEqual([]);
  });

  it('the pickup cap is what the widest ring takes with no speed known (5 km when there are no rings)', () => {
    const fixed: EtaEstimator = { estimateSeconds: (from, to) => Math.round(Math.abs(to.lat - from.lat) * METERS_PER_DEGREE) };
    expect(maxPickupSeconds([1_000, 8_000], fixed)).toBe(8_000);
    expect(maxPickupSeconds([], fixed)).toBe(5_000);
    expect(maxPickupSeconds([8_000], eta)).toBe(Math.round((8_000 * 1.3) / 4));
  });

  it('a driver exactly at the cap is a candidate; one second over is not', () => {
    const seconds = eta.estimateSeconds(north(1_000), pickup, { speedMps: null });
    const req = [{ rideId: 'r', pickup }];
    const rules = (max: number) => ({ maxPickupSeconds: max, fairness: defaultFairnessRules });
    expect(planWindow(req, () => [drv('d', 1_000)], { eta, now: NOW, rules: rules(seconds) })).toEqual([{ rideId: 'r', driverId: 'd', etaSeconds: seconds }]);
    expect(planWindow(req, () => [drv('d', 1_000)], { eta, now: NOW, rules: rules(seconds - 1) })).toEqual([]);
  });

  it('one driver near two pickups goes to one of them; the other waits; the ETA reported is the chosen pair’s', () => {
    const reqs = [{ rideId: 'r1', pickup }, { rideId: 'r2', pickup: north(3_000) }];
    const rules = { maxPickupSeconds: 2_000, fairness: defaultFairnessRules };
    const got = planWindow(reqs, (r) => (r.rideId === 'r1' ? [drv('d', 500), drv('far', 2_000)] : [drv('d', 500)]), { eta, now: NOW, rules });
    expect(got).toEqual([
      { rideId: 'r1', driverId: 'far', etaSeconds: eta.estimateSeconds(north(2_000), pickup, { speedMps: null }) },
      { rideId: 'r2', driverId: 'd', etaSeconds: eta.estimateSeconds(north(500), north(3_000), { speedMps: null }) },
    ]);
  });

  it('a driver’s known speed sets the ETA the pair is chosen on', () => {
    const rules = { maxPickupSeconds: 2_000, fairness: defaultFairnessRules };
    const got = planWindow([{ rideId: 'r', pickup }], () => [drv('fast', 1_000, { speedMps: 17 })], { eta, now: NOW, rules });
    expect(got).toEqual([{ rideId: 'r', driverId: 'fast', etaSeconds: eta.estimateSeconds(north(1_000), pickup, { speedMps: 17 }) }]);
    expect(got[0]!.etaSeconds).toBeLessThan(eta.estimateSeconds(north(1_000), pickup, { speedMps: null }));
  });

  it('fairness tips the window: a driver with missed offers loses to a slightly further one', () => {
    const rules = { maxPickupSeconds: 2_000, fairness: defaultFairnessRules };
    const got = planWindow([{ rideId: 'r', pickup }], () => [drv('missed', 300, { missedOffersAt: [NOW] }), drv('clean', 400)], { eta, now: NOW, rules });
    expect(got.map((m) => m.driverId)).toEqual(['clean']);
  });

  it('a request with no candidates waits; nobody is matched twice', () => {
    const rules = { maxPickupSeconds: 2_000, fairness: defaultFairnessRules };
    const got = planWindow([{ rideId: 'a', pickup }, { rideId: 'b', pickup }], (_r, i) => (i === 0 ? [drv('d', 100)] : []), { eta, now: NOW, rules });
    expect(got).toEqual([{ rideId: 'a', driverId: 'd', etaSeconds: eta.estimateSeconds(north(100), pickup, { speedMps: null }) }]);
  });
});
