import { describe, expect, it } from 'vitest';
import { defaultFairnessRules, planWindow, type WindowDriver, type WindowRequest } from '../../domain/matching/dispatch.ts';
import { straightLineEta } from '../../domain/tracking/eta.ts';

const NOW = 1_800_000_000_000;
const ORIGIN = { lat: 38.7223, lng: -9.1393 };
const east = (m: number) => ({ lat: ORIGIN.lat, lng: ORIGIN.lng + m / (111_195 * Math.cos((ORIGIN.lat * Math.PI) / 180)) });
const driver = (driverId: string, m: number, extra: Partial<WindowDriver> = {}): WindowDriver => ({ driverId, ...east(m), speedMps: null, ...extra });
const eta = straightLineEta();
const rules = { maxPickupSeconds: 600, fairness: defaultFairnessRules };

describe('planWindow: one batching window as a minimum-cost assignment', () => {
  it('given two requests each with its own nearest driver, gives each its nearest', () => {
    const requests: WindowRequest[] = [
      { rideId: 'r2', pickup: east(1_000) },
      { rideId: 'r1', pickup: east(0) },
    ];
    const drivers = [driver('d400', 400), driver('d1100', 1_100)];
    const matches = planWindow(requests, () => drivers, { eta, now: NOW, rules });
    expect(matches.map((m) => [m.rideId, m.driverId])).toEqual([['r2', 'd1100'], ['r1', 'd400']]);
  });

  it('beats greedy when the greedy choice strands a later request', () => {
    // Greedy in arrival order: r1 (at 500) takes d600 (100 m), r2 (at 1,300) gets d0 (1,300 m): 1,400 m.
    // Optimal: r1 → d0 (500 m), r2 → d600 (700 m): 1,200 m.
    const requests: WindowRequest[] = [
      { rideId: 'r1', pickup: east(500) },
      { rideId: 'r2', pickup: east(1_300) },
    ];
    const matches = planWindow(requests, () => [driver('d600', 600), driver('d0', 0)], { eta, now: NOW, rules });
    expect(Object.fromEntries(matches.map((m) => [m.rideId, m.driverId]))).toEqual({ r1: 'd0', r2: 'd600' });
  });

  it('prunes drivers further than the cap: such a request stays for the next window', () => {
    const requests: WindowRequest[] = [{ rideId: 'r', pickup: east(0) }];
    const far = driver('far', 5_000); // 5,000 × 1.3 / 4 m/s ≈ 1,625 s > 600 s
    expect(planWindow(requests, () => [far], { eta, now: NOW, rules })).toEqual([]);
  });

  it('reports the ETA the pair was chosen on, without the fairness adjustment', () => {
    const [m] = planWindow([{ rideId: 'r', pickup: east(0) }], () => [driver('d', 400, { idleSince: NOW - 3_600_000 })], { eta, now: NOW, rules });
    expect(m).toEqual({ rideId: 'r', driverId: 'd', etaSeconds: Math.round((400 * 1.3) / 4) });
  });

  it('a driver who missed offers lately loses a near-tie to one who did not; idle time breaks exact ties', () => {
    const requests: WindowRequest[] = [{ rideId: 'r', pickup: east(0) }];
    const missed = driver('missed', 300, { missedOffersAt: [NOW - 1_000] });
    expect(planWindow(requests, () => [missed, driver('other', 350)], { eta, now: NOW, rules })[0]!.driverId).toBe('other');
    const idle = (id: string, min: number) => driver(id, 300, { idleSince: NOW - min * 60_000 });
    expect(planWindow(requests, () => [idle('a', 1), idle('b', 12)], { eta, now: NOW, rules })[0]!.driverId).toBe('b');
  });
});

describe('planWindow with offer fan-out', () => {
  const fanout = (k: number) => ({ ...rules, fanout: k });
  it('adds the ride’s next-best free candidates, best first, never a driver the window gave another ride', () => {
    const requests: WindowRequest[] = [
      { rideId: 'r1', pickup: east(0) },
      { rideId: 'r2', pickup: east(1_000) },
    ];
    const drivers = [driver('d0', 0), driver('d100', 100), driver('d900', 900), driver('d300', 300), driver('d1200', 1_200)];
    const matches = planWindow(requests, () => drivers, { eta, now: NOW, rules: fanout(3) });
    const byRide = Object.fromEntries(matches.map((m) => [m.rideId, m]));
    expect(byRide.r1!.driverId).toBe('d0');
    expect(byRide.r2!.driverId).toBe('d900');
    // r1's next best: d100, d300 (d900 is r2's); r2's: d1200 only, d300 went to r1 first.
    expect(byRide.r1!.alternates!.map((a) => a.driverId)).toEqual(['d100', 'd300']);
    expect(byRide.r2!.alternates!.map((a) => a.driverId)).toEqual(['d1200']);
    const all = matches.flatMap((m) => [m.driverId, ...m.alternates!.map((a) => a.driverId)]);
    expect(new Set(all).size).toBe(all.length);
    expect(byRide.r1!.alternates![0]).toEqual({ driverId: 'd100', etaSeconds: Math.round((100 * 1.3) / 4) });
  });

  it('a top-up (a ride already offered, short of K) is in no assignment: it gets what the matched rides left, best first, at most what it asks', () => {
    const drivers = [driver('d0', 0), driver('d150', 150), driver('d400', 400), driver('d500', 500), driver('d900', 900)];
    const r: WindowRequest = { rideId: 'r', pickup: east(100) };
    const alone = planWindow([r], () => drivers, { eta, now: NOW, rules: fanout(2) });
    const matches = planWindow([{ rideId: 'up', pickup: east(0), topUp: 2 }, r], () => drivers, { eta, now: NOW, rules: fanout(2) });
    // The top-up changes nothing for the ride with no offer: d150 (50 m), then d0 (100 m) as its alternate,
    // though d0 stands at the top-up's pickup.
    expect(matches.find((m) => m.rideId === 'r')).toEqual(alone[0]);
    expect(alone[0]).toMatchObject({ driverId: 'd150', alternates: [{ driverId: 'd0' }] });
    const up = matches.find((m) => m.rideId === 'up')!;
    expect(up).toEqual({ rideId: 'up', driverId: 'd400', etaSeconds: Math.round((400 * 1.3) / 4), alternates: [{ driverId: 'd500', etaSeconds: Math.round((500 * 1.3) / 4) }], topUp: true });
    // Nobody left within reach: no answer for the top-up.
    expect(planWindow([{ rideId: 'up', pickup: east(0), topUp: 1 }, r], () => drivers.slice(0, 2), { eta, now: NOW, rules: fanout(2) }).map((m) => m.rideId)).toEqual(['r']);
  });

  it('fan-out 1 (the default) adds nothing', () => {
    const [m] = planWindow([{ rideId: 'r', pickup: east(0) }], () => [driver('a', 0), driver('b', 50)], { eta, now: NOW, rules: fanout(1) });
    expect(m).toEqual({ rideId: 'r', driverId: 'a', etaSeconds: 0 });
  });
});
