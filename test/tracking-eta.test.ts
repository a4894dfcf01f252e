import { describe, expect, it } from 'vitest';
import type { LatLng } from '../domain/geo.ts';
import { straightLineEta } from '../domain/tracking/eta.ts';

const PICKUP = { lat: 48.8566, lng: 2.3522 };
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const south = (meters: number): LatLng => ({ lat: PICKUP.lat - meters / M_PER_DEG, lng: PICKUP.lng });

describe('straight-line ETA', () => {
  const eta = straightLineEta();

  it('given a driver 1 km away at 10 m/s, then the ETA is distance × 1.3 ÷ speed in whole seconds', () => {
    expect(eta.estimateSeconds(south(1_000), PICKUP, { speedMps: 10 })).toBe(130);
    expect(eta.estimateSeconds(south(1_234), PICKUP, { speedMps: 10 })).toBe(160);
  });

  it('given a driver approaching the pickup, then the ETA falls with every fix and reaches 0 within 20 m', () => {
    const etas = [3_000, 2_000, 1_000, 400, 100, 30, 15, 0].map((m) => eta.estimateSeconds(south(m), PICKUP, { speedMps: 9 }));
    expect(etas.slice(0, 6).every((s, i) => s > etas[i + 1]!)).toBe(true);
    expect(etas.slice(-2)).toEqual([0, 0]);
  });

  it('given a driver stopped at a light or with no speed, then the floor of 4 m/s keeps the ETA finite', () => {
    expect(eta.estimateSeconds(south(1_000), PICKUP, { speedMps: 0 })).toBe(325);
    expect(eta.estimateSeconds(south(1_000), PICKUP, { speedMps: null })).toBe(325);
  });

  it('given a burst of speed, then the ETA assumes no more than 17 m/s', () => {
    expect(eta.estimateSeconds(south(1_700), PICKUP, { speedMps: 40 })).toBe(130);
  });

  it('given other options, then they replace the defaults', () => {
    const rural = straightLineEta({ detourFactor: 1, floorSpeedMps: 10, maxSpeedMps: 30, arrivedWithinM: 100 });
    expect(rural.estimateSeconds(south(3_000), PICKUP, { speedMps: 2 })).toBe(300);
    expect(rural.estimateSeconds(south(3_000), PICKUP, { speedMps: 50 })).toBe(100);
    expect(rural.estimateSeconds(south(90), PICKUP, { speedMps: 10 })).toBe(0);
  });
});
