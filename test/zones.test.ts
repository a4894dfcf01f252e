import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Polygon } from 'geojson';
import { afterAll, describe, expect, it } from 'vitest';
import { loadZonesFromEnv, makeZones, ZoneConfigError } from '../adapters/geo/zones.ts';

/** An axis-aligned box as a GeoJSON ring ([lng, lat], closed). */
const box = (west: number, south: number, east: number, north: number): number[][] => [
  [west, south],
  [east, south],
  [east, north],
  [west, north],
  [west, south],
];
const polygon = (...rings: number[][][]): Polygon => ({ type: 'Polygon', coordinates: rings });

// A toy city: service area 2.20..2.50 E, 48.80..48.92 N; downtown with a park cut out; an airport outside.
const CITY = polygon(box(2.2, 48.8, 2.5, 48.92));
const DOWNTOWN = polygon(box(2.3, 48.84, 2.4, 48.88), box(2.34, 48.855, 2.36, 48.865));
const AIRPORT = { type: 'Feature', properties: {}, geometry: polygon(box(2.52, 48.99, 2.6, 49.03)) } as const;
const NORTH_HALF = polygon(box(2.2, 48.86, 2.5, 48.92));

const INSIDE_DOWNTOWN = { lat: 48.87, lng: 2.32 };
const IN_THE_PARK = { lat: 48.86, lng: 2.35 };
const SUBURB = { lat: 48.81, lng: 2.25 };
const AT_THE_AIRPORT = { lat: 49.01, lng: 2.55 };

describe('service area and zones', () => {
  const map = makeZones({
    serviceArea: CITY,
    zones: [
      { name: 'downtown', geometry: DOWNTOWN },
      { name: 'north', geometry: NORTH_HALF },
      { name: 'airport', geometry: AIRPORT },
    ],
  });

  it('given a service area, then points inside it are served and points outside are not', () => {
    expect(map.inServiceArea(INSIDE_DOWNTOWN)).toBe(true);
    expect(map.inServiceArea(SUBURB)).toBe(true);
    expect(map.inServiceArea(AT_THE_AIRPORT)).toBe(false);
  });

  it('given no service area, then everywhere is served', () => {
    expect(makeZones().inServiceArea(AT_THE_AIRPORT)).toBe(true);
    expect(makeZones().zonesAt(AT_THE_AIRPORT)).toEqual([]);
  });

  it('given overlapping zones and a hole, then a point is in every zone that contains it, in map order', () => {
    expect(map.zonesAt(INSIDE_DOWNTOWN)).toEqual(['downtown', 'north']);
    expect(map.zonesAt(IN_THE_PARK)).toEqual(['north']);
    expect(map.zonesAt(SUBURB)).toEqual([]);
    expect(map.zonesAt(AT_THE_AIRPORT)).toEqual(['airport']);
  });

  it('given the zones a driver was in, then moving reports what was entered and exited', () => {
    expect(map.transitions([], INSIDE_DOWNTOWN)).toEqual({ entered: ['downtown', 'north'], exited: [], now: ['downtown', 'north'] });
    expect(map.transitions(['downtown', 'north'], IN_THE_PARK)).toEqual({ entered: [], exited: ['downtown'], now: ['north'] });
    expect(map.transitions(['north'], SUBURB)).toEqual({ entered: [], exited: ['north'], now: [] });
    expect(map.transitions(['north'], IN_THE_PARK)).toEqual({ entered: [], exited: [], now: ['north'] });
  });

  it('given a MultiPolygon service area, then both parts are served and the gap is not', () => {
    const split = makeZones({
      serviceArea: { type: 'MultiPolygon', coordinates: [[box(2.2, 48.8, 2.3, 48.9)], [box(2.4, 48.8, 2.5, 48.9)]] },
    });
    expect([{ lat: 48.85, lng: 2.25 }, { lat: 48.85, lng: 2.35 }, { lat: 48.85, lng: 2.45 }].map(split.inServiceArea)).toEqual([true, false, true]);
  });

  it('given geometry that is not an area, then building the map fails and says which', () => {
    expect(() => makeZones({ zones: [{ name: 'pin', geometry: { type: 'Point', coordinates: [2.3, 48.8] } as never }] })).toThrow(
      /zone pin: expected a Polygon or MultiPolygon.*got Point/,
    );
    expect(() => makeZones({ serviceArea: polygon([[2.2, 48.8], [2.3, 48.8], [2.2, 48.8]]) })).toThrow(/at least 4 positions/);
  });
});

describe('zones from configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ridecast-zones-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('given inline GeoJSON settings, then the map answers from them', () => {
    const map = loadZonesFromEnv({
      SERVICE_AREA: JSON.stringify(CITY),
      ZONES: JSON.stringify([{ name: 'downtown', geometry: DOWNTOWN }]),
    });
    expect(map.inServiceArea(AT_THE_AIRPORT)).toBe(false);
    expect(map.zonesAt(INSIDE_DOWNTOWN)).toEqual(['downtown']);
  });

  it('given file paths, then the files are read, and a FeatureCollection names zones by properties.name', () => {
    const area = join(dir, 'area.geojson');
    const zones = join(dir, 'zones.geojson');
    writeFileSync(area, JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: CITY }] }));
    writeFileSync(
      zones,
      JSON.stringify({ type: 'FeatureCollection', features: [{ ...AIRPORT, properties: { name: 'airport' } }, { type: 'Feature', geometry: DOWNTOWN }] }),
    );
    const map = loadZonesFromEnv({ SERVICE_AREA: area, ZONES: ` ${zones} ` });
    expect(map.inServiceArea(SUBURB)).toBe(true);
    expect(map.inServiceArea(AT_THE_AIRPORT)).toBe(false);
    expect(map.zonesAt(AT_THE_AIRPORT)).toEqual(['airport']);
    expect(map.zonesAt(INSIDE_DOWNTOWN)).toEqual(['zone 2']);
  });

  it('given no settings, then everywhere is served and there are no zones', () => {
    const map = loadZonesFromEnv({ SERVICE_AREA: '', ZONES: undefined });
    expect(map.inServiceArea(AT_THE_AIRPORT)).toBe(true);
    expect(map.zonesAt(INSIDE_DOWNTOWN)).toEqual([]);
  });

  it.each([
    ['SERVICE_AREA', { SERVICE_AREA: '{"type": "Polygon", ' }, /^SERVICE_AREA: .*JSON/],
    ['SERVICE_AREA', { SERVICE_AREA: '/nowhere/area.geojson' }, /^SERVICE_AREA: ENOENT/],
    ['ZONES', { ZONES: '{"type": "Point", "coordinates": [2.3, 48.8]}' }, /^ZONES: expected an array/],
    ['ZONES', { ZONES: JSON.stringify([{ name: '', geometry: DOWNTOWN }]) }, /^ZONES: zone 0: name must be/],
  ])('given a broken %s, then loading fails with one line naming it', (setting, env, message) => {
    let thrown: unknown;
    try {
      loadZonesFromEnv(env);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ZoneConfigError);
    expect(thrown).toMatchObject({ setting, message: expect.stringMatching(message) });
    expect((thrown as Error).message).not.toContain('\n');
  });
});
