import { readFileSync } from 'node:fs';
import { booleanPointInPolygon } from '@turf/boolean-point-in-polygon';
import type { Feature, FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import type { LatLng } from '../../domain/geo.ts';
import { zoneTransition, type ZoneMap } from '../../domain/tracking/zones.ts';

type Area = Polygon | MultiPolygon;
/** A polygon, a multipolygon, a Feature of either, or a FeatureCollection of them (their union). */
export type AreaInput = Area | Feature<Area> | FeatureCollection<Area>;

export interface ZoneDefinition {
  readonly name: string;
  readonly geometry: AreaInput;
}

export interface ZonesConfig {
  /** Where rides may happen; omitted means everywhere. */
  readonly serviceArea?: AreaInput;
  readonly zones?: readonly ZoneDefinition[];
}

/** A zone setting that cannot be used; `setting` names it (SERVICE_AREA, ZONES). */
export class ZoneConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'ZoneConfigError';
  }
}

type BBox = readonly [minLng: number, minLat: number, maxLng: number, maxLat: number];
interface Shape {
  readonly polygons: readonly Area[];
  readonly bbox: BBox;
}

/** Point-in-polygon (with holes) by @turf, behind a bounding-box test that rejects most points for free. */
export function makeZones(config: ZonesConfig = {}): ZoneMap {
  return fromShapes(serviceShape(config.serviceArea), zoneShapes(config.zones ?? []));
}

interface NamedShape {
  readonly name: string;
  readonly shape: Shape;
}

function fromShapes(service: Shape | null, zones: readonly NamedShape[]): ZoneMap {
  const zonesAt = (p: LatLng) => zones.filter((z) => contains(z.shape, p)).map((z) => z.name);
  return {
    inServiceArea: (p) => service === null || contains(service, p),
    zonesAt,
    transitions: (prevZones, p) => zoneTransition(prevZones, zonesAt(p)),
  };
}

const serviceShape = (area: AreaInput | undefined) => (area === undefined ? null : toShape(area, 'service area'));

function zoneShapes(zones: readonly ZoneDefinition[]): NamedShape[] {
  return zones.map((z, i) => {
    if (typeof z?.name !== 'string' || z.name === '') throw new TypeError(`zone ${i}: name must be a non-empty string`);
    return { name: z.name, shape: toShape(z.geometry, `zone ${z.name}`) };
  });
}

function contains(shape: Shape, { lat, lng }: LatLng): boolean {
  const [minLng, minLat, maxLng, maxLat] = shape.bbox;
  if (lng < minLng || lng > maxLng || lat < minLat || lat > maxLat) return false;
  return shape.polygons.some((g) => booleanPointInPolygon([lng, lat], g));
}

function toShape(input: AreaInput, what: string): Shape {
  const polygons = areasOf(input, what);
  let bbox: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const g of polygons) {
    const rings = g.type === 'Polygon' ? g.coordinates : g.coordinates.flat();
    for (const ring of rings) {
      if (ring.length < 4) throw new TypeError(`${what}: a ring needs at least 4 positions`);
      for (const [lng, lat] of ring) {
        if (typeof lng !== 'number' || typeof lat !== 'number' || Math.abs(lng) > 180 || Math.abs(lat) > 90) {
          throw new TypeError(`${what}: positions must be [lng, lat] in degrees`);
        }
        bbox = [Math.min(bbox[0], lng), Math.min(bbox[1], lat), Math.max(bbox[2], lng), Math.max(bbox[3], lat)];
      }
    }
  }
  return { polygons, bbox };
}

function areasOf(input: unknown, what: string): Area[] {
  const g = input as { type?: unknown; coordinates?: unknown; geometry?: unknown; features?: unknown };
  if (g === null || typeof g !== 'object') throw new TypeError(`${what}: expected GeoJSON, got ${typeof input}`);
  if ((g.type === 'Polygon' || g.type === 'MultiPolygon') && Array.isArray(g.coordinates)) return [g as Area];
  if (g.type === 'Feature') return areasOf(g.geometry, what);
  if (g.type === 'FeatureCollection' && Array.isArray(g.features)) return g.features.flatMap((f) => areasOf(f, what));
  throw new TypeError(`${what}: expected a Polygon or MultiPolygon (or a Feature/FeatureCollection of them), got ${String(g.type)}`);
}

/**
 * Zones from configuration. Each setting is inline JSON or a path to a JSON file:
 * - SERVICE_AREA: GeoJSON Polygon / MultiPolygon / Feature / FeatureCollection;
 * - ZONES: `[{name, geometry}]`, or a FeatureCollection whose features carry `properties.name`.
 * Unset settings mean "everywhere" and "no zones". A wrong setting throws ZoneConfigError naming it.
 */
export function loadZonesFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  readText: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): ZoneMap {
  const area = readSetting(env, 'SERVICE_AREA', readText);
  const zones = readSetting(env, 'ZONES', readText);
  return fromShapes(
    guard('SERVICE_AREA', () => serviceShape(area as AreaInput | undefined)),
    guard('ZONES', () => (zones === undefined ? [] : zoneShapes(zoneList(zones)))),
  );
}

function readSetting(env: Readonly<Record<string, string | undefined>>, name: string, readText: (path: string) => string) {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const inline = raw.startsWith('{') || raw.startsWith('[');
  const text = inline ? raw : guard(name, () => readText(raw));
  return guard(name, () => JSON.parse(text) as unknown);
}

function zoneList(value: unknown): ZoneDefinition[] {
  if (Array.isArray(value)) return value as ZoneDefinition[];
  const fc = value as { type?: unknown; features?: unknown };
  if (fc?.type === 'FeatureCollection' && Array.isArray(fc.features)) {
    return (fc.features as Feature<Area>[]).map((f, i) => ({ name: String(f.properties?.['name'] ?? `zone ${i + 1}`), geometry: f }));
  }
  throw new TypeError('expected an array of {name, geometry} or a FeatureCollection');
}

function guard<T>(setting: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw new ZoneConfigError(setting, err instanceof Error ? err.message : String(err));
  }
}

/** Zones from the configuration's SERVICE_AREA and ZONES settings (src/config.ts reads them). */
export const loadZones = (settings: { serviceArea: string | null; zones: string | null }, readText?: (path: string) => string): ZoneMap =>
  loadZonesFromEnv({ SERVICE_AREA: settings.serviceArea ?? undefined, ZONES: settings.zones ?? undefined }, readText);
