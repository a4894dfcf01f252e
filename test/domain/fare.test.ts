import { describe, expect, it } from 'vitest';
import { computeFare, defaultTariff, type Tariff } from '../../domain/fare.ts';

const tariff: Tariff = { currency: 'EUR', base: 2.5, perKm: 1.2, perMinute: 0.3, minimum: 5 };

describe('computeFare', () => {
  it('is base + per km + per minute', () => {
    // 2.50 + 1.20 × 10 + 0.30 × 20 = 20.50
    expect(computeFare(tariff, 10_000, 1200)).toStrictEqual({ amount: 20.5, currency: 'EUR' });
  });

  it('charges distance and time separately', () => {
    const zero: Tariff = { ...tariff, base: 0, minimum: 0 };
    expect(computeFare({ ...zero, perMinute: 0 }, 2500, 9999).amount).toBe(3); // 1.20 × 2.5 km
    expect(computeFare({ ...zero, perKm: 0 }, 99_999, 90).amount).toBe(0.45); // 0.30 × 1.5 min
  });

  it('never charges less than the minimum', () => {
    expect(computeFare(tariff, 0, 0).amount).toBe(5);
    expect(computeFare(tariff, 1000, 60).amount).toBe(5); // 2.50 + 1.20 + 0.30 = 4.00
  });

  it('charges the fare, not the minimum, once the fare is above it', () => {
    expect(computeFare(tariff, 2000, 120).amount).toBe(5.5); // 2.50 + 2.40 + 0.60
  });

  it('rounds to the cent', () => {
    // 2.50 + 1.20 × 1.234 + 0.30 × 61 / 60 = 2.50 + 1.4808 + 0.305 = 4.2858 → minimum; lift the minimum:
    expect(computeFare({ ...tariff, minimum: 0 }, 1234, 61).amount).toBe(4.29);
    // 2.50 + 1.20 × 3.333 + 0.30 × 100 / 60 = 2.50 + 3.9996 + 0.50 = 6.9996 → 7.00
    expect(computeFare(tariff, 3333, 100).amount).toBe(7);
    // 2.50 + 1.20 × 4.321 + 0.30 × 7 / 60 = 2.50 + 5.1852 + 0.035 = 7.7202 → 7.72
    expect(computeFare(tariff, 4321, 7).amount).toBe(7.72);
  });

  it('every amount is a whole number of cents', () => {
    for (let d = 0; d < 40_000; d += 733) {
      for (let s = 0; s < 3600; s += 97) {
        const cents = computeFare(tariff, d, s).amount * 100;
        expect(Math.abs(cents - Math.round(cents))).toBeLessThan(1e-6);
      }
    }
  });

  it('charges in the tariff’s currency', () => {
    expect(computeFare({ ...tariff, currency: 'GBP' }, 10_000, 1200).currency).toBe('GBP');
    expect(computeFare({ currency: 'JPY', base: 500, perKm: 300, perMinute: 50, minimum: 700 }, 3000, 600)).toStrictEqual({
      amount: 1900,
      currency: 'JPY',
    });
  });

  it('the default tariff is EUR 2.50 + 1.20/km + 0.30/min, at least 5.00', () => {
    expect(defaultTariff).toStrictEqual(tariff);
  });
});
