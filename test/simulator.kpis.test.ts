import { describe, expect, it } from 'vitest';
import { createDispatchKpis } from '../src/simulator/kpis.ts';

describe('dispatch KPIs', () => {
  it('given rides matched, unmatched, declined and expired, reports rates, percentiles and driver time', () => {
    const k = createDispatchKpis();
    // r1: offered once, accepted after 4 s with a 120 s ETA, picked up 100 s later.
    k.requested('r1', 0);
    k.offered('r1', 1_000);
    k.accepted('r1', 4_000, 120);
    k.pickedUp('r1', 104_000);
    // r2: declined, then expired, then accepted after 30 s with 300 s ETA, picked up 360 s later.
    k.requested('r2', 10_000);
    k.offered('r2', 11_000);
    k.declined();
    k.offered('r2', 20_000);
    k.expired();
    k.offered('r2', 35_000);
    k.accepted('r2', 40_000, 300);
    k.pickedUp('r2', 400_000);
    // r3: nobody came.
    k.requested('r3', 20_000);
    k.unmatched('r3', 140_000);
    k.accepted('r3', 150_000, 1); // a late accept after the ride was given up changes nothing
    // Two drivers online for 100 s: one busy 50 s of it, free the rest.
    k.sampleDrivers(50_000, { online: 2, busy: 1, idle: 1 });
    k.sampleDrivers(50_000, { online: 2, busy: 0, idle: 2 });

    expect(k.summary()).toEqual({
      requests: 3,
      matched: 2,
      unmatched: 1,
      matchRate: 0.6667,
      timeToMatchS: { p50: 4, p90: 30 },
      pickupEtaS: { mean: 210, p50: 120, p90: 300 },
      pickupActualS: { mean: 230, p50: 100, p90: 360 },
      offersPerRide: 1.33,
      declines: 1,
      expiries: 1,
      driverUtilisation: 0.25,
      driverIdleShare: 0.75,
    });
  });
});
