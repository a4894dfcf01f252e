import { describe, expect, it } from 'vitest';
import { bearingDegrees, distanceMeters, isLatLng, pathLengthMeters } from '../../domain/geo.ts';

const paris = { lat: 48.8566, lng: 2.3522 };
const london = { lat: 51.5074, lng: -0.1278 };
const origin = { lat: 0, lng: 0 };

describe('distanceMeters (haversine)', () => {
  it('one degree of latitude is about 111.2 km', () => {
    expect(distanceMeters(origin, { lat: 1, lng: 0 })).toBeCloseTo(111_195, 0);
    expect(distanceMeters({ lat: 45, lng: 7 }, { lat: 46, lng: 7 })).toBeCloseTo(111_195, 0);
  });

  it('one degree of longitude shrinks with the cosine of the latitude', () => {
    expect(distanceMeters(origin, { lat: 0, lng: 1 })).toBeCloseTo(111_195, 0);
    expect(distanceMeters({ lat: 60, lng: 0 }, { lat: 60, lng: 1 })).toBeCloseTo(55_597, -1);
  });

  it('Paris to London is about 343.5 km', () => {
    expect(Math.abs(distanceMeters(paris, london) - 343_500)).toBeLessThan(1000);
  });

  it('is symmetric and zero from a point to itself', () => {
    expect(distanceMeters(paris, london)).toBe(distanceMeters(london, paris));
    expect(distanceMeters(paris, paris)).toBe(0);
  });

  it('half the globe is half the circumference, across the antimeridian too', () => {
    const halfCircumference = Math.PI * 6_371_008.8;
    expect(distanceMeters(origin, { lat: 0, lng: 180 })).toBeCloseTo(halfCircumference, 0);
    expect(distanceMeters({ lat: 90, lng: 0 }, { lat: -90, lng: 0 })).toBeCloseTo(halfCircumference, 0);
    expect(distanceMeters({ lat: 0, lng: 179.5 }, { lat: 0, lng: -179.5 })).toBeCloseTo(111_195, 0);
  });

  it('resolves city-block distances to the metre', () => {
    // 0.0001° of latitude ≈ 11.12 m
    expect(distanceMeters(paris, { lat: paris.lat + 0.0001, lng: paris.lng })).toBeCloseTo(11.12, 1);
  });
});

describe('bearingDegrees', () => {
  it('points north, east, south, west', () => {
    expect(bearingDegrees(origin, { lat: 1, lng: 0 })).toBeCloseTo(0, 9);
    expect(bearingDegrees(origin, { lat: 0, lng: 1 })).toBeCloseTo(90, 9);
    expect(bearingDegrees(origin, { lat: -1, lng: 0 })).toBeCloseTo(180, 9);
    expect(bearingDegrees(origin, { lat: 0, lng: -1 })).toBeCloseTo(270, 9);
  });

  it('Paris to London heads north-north-west (≈330°), London to Paris south-east (≈148°)', () => {
    expect(bearingDegrees(paris, london)).toBeCloseTo(330.0, 1);
    expect(bearingDegrees(london, paris)).toBeCloseTo(148.1, 1);
  });

  it('stays in [0, 360)', () => {
    for (let lat = -80; lat <= 80; lat += 20) {
      for (let lng = -170; lng <= 170; lng += 34) {
        const b = bearingDegrees(paris, { lat, lng });
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThan(360);
      }
    }
  });
});

describe('pathLengthMeters', () => {
  it('is the sum of the legs; empty and single-point paths are 0', () => {
    const a = { lat: 0, lng: 0 }, b = { lat: 0, lng: 1 }, c = { lat: 1, lng: 1 };
    expect(pathLengthMeters([a, b, c])).toBeCloseTo(distanceMeters(a, b) + distanceMeters(b, c), 6);
    expect(pathLengthMeters([])).toBe(0);
    expect(pathLengthMeters([a])).toBe(0);
  });
});

describe('isLatLng', () => {
  it('accepts WGS84 ranges, bounds included', () => {
    expect(isLatLng(paris)).toBe(true);
    expect(isLatLng({ lat: 90, lng: -180 })).toBe(true);
  });

  it('rejects out-of-range and non-finite coordinates', () => {
    expect(isLatLng({ lat: 90.0001, lng: 0 })).toBe(false);
    expect(isLatLng({ lat: 0, lng: -180.0001 })).toBe(false);
    expect(isLatLng({ lat: Number.NaN, lng: 0 })).toBe(false);
    expect(isLatLng({ lat: 0, lng: Number.POSITIVE_INFINITY })).toBe(false);
  });
});
