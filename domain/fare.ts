/** A tariff: what a trip costs, in major units of `currency` (fares are rounded to the cent). */
export interface Tariff {
  readonly currency: string;
  readonly base: number;
  readonly perKm: number;
  readonly perMinute: number;
  readonly minimum: number;
}

export interface Fare {
  readonly amount: number;
  readonly currency: string;
}

export const defaultTariff: Tariff = { currency: 'EUR', base: 2.5, perKm: 1.2, perMinute: 0.3, minimum: 5 };

/** base + per km + per minute, never below the minimum, rounded to the cent. */
export function computeFare(tariff: Tariff, distanceMeters: number, durationSeconds: number): Fare {
  const raw = tariff.base + (tariff.perKm * distanceMeters) / 1000 + (tariff.perMinute * durationSeconds) / 60;
  // toFixed first: 5.065 * 100 is 506.4999… in binary floating point, and must round to 507 cents.
  const amount = Math.round(Number((Math.max(tariff.minimum, raw) * 100).toFixed(6))) / 100;
  return { amount, currency: tariff.currency };
}
