import { describe, expect, it } from 'vitest';
import { pathLengthMeters, type LatLng } from '../domain/geo.ts';
import { createRandom } from '../src/simulator/random.ts';
import { cleanTrack, trackDistanceMeters, type MeasuredPoint } from '../domain/tracking/track.ts';

const ORIGIN = { lat: 48.8566, lng: 2.3522 };
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const T0 = 1_700_000_000_000;
const at = (east: number, north: number): LatLng => ({
  lat: ORIGIN.lat + north / M_PER_DEG,
  lng: ORIGIN.lng + east / (M_PER_DEG * Math.cos((ORIGIN.lat * Math.PI) / 180)),
});
const fix = (east: number, north: number, second: number, accuracy: number | null = 8): MeasuredPoint => ({
  ...at(east, north),
  recordedAt: T0 + second * 1_000,
  accuracy,
});

/** The simulator's seeded generator (mulberry32), so the jitter is the same on every run. */
const seeded = (seed: number) => createRandom(seed).next;

describe('a trip track', () => {
  it('given points out of order and resent, then the playback track is in device-time order without duplicates', () => {
    const track = cleanTrack([fix(20, 0, 2), fix(0, 0, 0), fix(20, 0, 2), fix(10, 0, 1), fix(0, 0, 0), fix(30, 0, 3)]);
    expect(track).toEqual([0, 1, 2, 3].map((s) => ({ ...at(10 * s, 0), recordedAt: T0 + s * 1_000 })));
  });

  it('given two different fixes with the same time, then both stay (only exact resends are dropped)', () => {
    expect(cleanTrack([fix(0, 0, 0), fix(5, 0, 0)])).toHaveLength(2);
  });

  it('given a car parked for 10 minutes with ±5 m jitter, then the track adds less than 10 m', () => {
    const noise = seeded(3);
    const parked = Array.from({ length: 600 }, (_, s) => fix((noise() - 0.5) * 10, (noise() - 0.5) * 10, s));
    expect(pathLengthMeters(parked)).toBeGreaterThan(1_000);
    expect(trackDistanceMeters(parked)).toBeLessThan(10);
  });

  it('given a 600 m drive with ±2 m noise, then the distance is within 3% of it', () => {
    const noise = seeded(5);
    const drive = Array.from({ length: 61 }, (_, s) => fix(10 * s + (noise() - 0.5) * 4, (noise() - 0.5) * 4, s, 4));
    expect(trackDistanceMeters(drive)).toBeGreaterThan(582);
    expect(trackDistanceMeters(drive)).toBeLessThan(618);
  });

  it('given a parked wait, then a drive, then the distance is the drive only', () => {
    const noise = seeded(9);
    const wait = Array.from({ length: 120 }, (_, s) => fix((noise() - 0.5) * 10, (noise() - 0.5) * 10, s));
    const drive = Array.from({ length: 40 }, (_, s) => fix(10 * (s + 1), 0, 120 + s, null));
    expect(trackDistanceMeters([...wait, ...drive])).toBeGreaterThan(390);
    expect(trackDistanceMeters([...wait, ...drive])).toBeLessThan(410);
  });

  it('given the drive shuffled and resent, then its distance is the same as in order', () => {
    const drive = Array.from({ length: 30 }, (_, s) => fix(10 * s, 0, s));
    const dirty = [...drive.slice(15), ...drive, ...drive.slice(0, 15).reverse()];
    expect(trackDistanceMeters(dirty)).toBeCloseTo(trackDistanceMeters(drive), 6);
    expect(trackDistanceMeters(drive)).toBeGreaterThan(270);
    expect(trackDistanceMeters(drive)).toBeLessThanOrEqual(290);
  });

  it('given fewer than two points, then the distance is 0', () => {
    expect(trackDistanceMeters([])).toBe(0);
    expect(trackDistanceMeters([fix(0, 0, 0)])).toBe(0);
  });
});
