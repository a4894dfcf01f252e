import { describe, expect, it } from 'vitest';
import { isLatLng } from '../../domain/geo.ts';

// What a request body with a position is told: only real WGS84 numbers are a place.
describe('a position is a place only with both coordinates finite numbers in range', () => {
  it('a latitude out of range is refused even with a good longitude, and the reverse', () => {
    expect(isLatLng({ lat: 91, lng: 0 })).toBe(false);
    expect(isLatLng({ lat: 0, lng: 181 })).toBe(false);
    expect(isLatLng({ lat: -90, lng: -180 })).toBe(true);
  });

  it('coordinates sent as strings are not numbers, however plausible', () => {
    expect(isLatLng({ lat: '48.85' as unknown as number, lng: 2.35 })).toBe(false);
    expect(isLatLng({ lat: 48.85, lng: '2.35' as unknown as number })).toBe(false);
    expect(isLatLng({ lat: null as unknown as number, lng: 2.35 })).toBe(false);
  });
});
