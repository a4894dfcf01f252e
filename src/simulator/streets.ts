import { distanceMeters, EARTH_RADIUS_M, type LatLng } from '../../domain/geo.ts';
import { createRandom, type Random } from './random.ts';

/** The box the simulated city fills. Same config, same streets: the generator is pure. */
export interface CityConfig {
  readonly center: LatLng;
  readonly widthMeters: number;
  readonly heightMeters: number;
  readonly seed: number;
}

export const DEFAULT_CITY: CityConfig = Object.freeze({
  center: Object.freeze({ lat: 38.72, lng: -9.14 }),
  widthMeters: 6000,
  heightMeters: 6000,
  seed: 1,
});

/** `avenue`: a major line (drawn wider, driven faster); `street`: the blocks between; `diagonal`: cuts across. */
export type StreetKind = 'avenue' | 'street' | 'diagonal';

export interface StreetNode {
  readonly id: number;
  readonly lat: number;
  readonly lng: number;
}

export interface StreetEdge {
  readonly id: number;
  readonly from: number;
  readonly to: number;
  readonly lengthMeters: number;
  readonly kind: StreetKind;
  readonly name: string;
}

export interface Neighbour {
  readonly node: number;
  readonly edge: number;
}

/** An undirected street graph; `adjacency[nodeId]` lists the edges that leave that node. */
export interface StreetGraph {
  readonly city: CityConfig;
  readonly nodes: readonly StreetNode[];
  readonly edges: readonly StreetEdge[];
  readonly adjacency: readonly (readonly Neighbour[])[];
}

const RAD = Math.PI / 180;

/** Local metres (x east, y north of the centre) to WGS84; equirectangular is exact enough over a few km. */
function toLatLng(center: LatLng, x: number, y: number): LatLng {
  const lat = center.lat + y / EARTH_RADIUS_M / RAD;
  const lng = center.lng + x / (EARTH_RADIUS_M * Math.cos(center.lat * RAD)) / RAD;
  return { lat, lng };
}

/** Irregular spacing: blocks of varying size, like a city that grew rather than was drawn. */
function gridLines(rng: Random, extent: number, minGap: number, maxGap: number): number[] {
  const lines = [-extent / 2];
  for (;;) {
    const next = lines[lines.length - 1]! + rng.between(minGap, maxGap);
    if (next > extent / 2 - minGap / 2) break;
    lines.push(next);
  }
  lines.push(extent / 2);
  return lines;
}

const ordinal = (n: number) => {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
};

/** A wavy line: each avenue or street bends gently instead of being ruler-straight. */
interface Wave {
  readonly amplitude: number;
  readonly wavelength: number;
  readonly phase: number;
}
const wave = (rng: Random): Wave => ({ amplitude: rng.between(8, 45), wavelength: rng.between(1500, 4000), phase: rng.between(0, 2 * Math.PI) });
const bend = (w: Wave, along: number) => w.amplitude * Math.sin((2 * Math.PI * along) / w.wavelength + w.phase);

/**
 * Generates a plausible street network: an irregular grid of avenues (north–south, every few
 * columns a major one) and streets (east–west), bent and jittered, with some blocks merged
 * (missing segments) and two diagonals that cross at an intersection. Only the part
 * connected to the centre is kept, so every node reaches every other.
 */
export function generateStreets(config: Partial<CityConfig> = {}): StreetGraph {
  const city: CityConfig = { ...DEFAULT_CITY, ...config };
  if (!(city.widthMeters >= 500 && city.heightMeters >= 500)) throw new RangeError('city must be at least 500 m on each side');
  const rng = createRandom(city.seed);
  const cols = gridLines(rng, city.widthMeters, 170, 320);
  const rows = gridLines(rng, city.heightMeters, 110, 220);
  const colWaves = cols.map(() => wave(rng));
  const rowWaves = rows.map(() => wave(rng));
  const majorCol = (i: number) => i === 0 || i === cols.length - 1 || i % 4 === 2;
  const majorRow = (j: number) => j === 0 || j === rows.length - 1 || j % 5 === 3;

  const raw: LatLng[] = [];
  const at = (i: number, j: number) => j * cols.length + i;
  for (let j = 0; j < rows.length; j++) {
    for (let i = 0; i < cols.length; i++) {
      const edgeX = i === 0 || i === cols.length - 1;
      const edgeY = j === 0 || j === rows.length - 1;
      // Bend columns east–west as they run north, rows north–south as they run east; keep the box edges straight.
      const x = cols[i]! + (edgeX ? 0 : bend(colWaves[i]!, rows[j]!) + rng.gaussian() * 4);
      const y = rows[j]! + (edgeY ? 0 : bend(rowWaves[j]!, cols[i]!) + rng.gaussian() * 4);
      raw.push(toLatLng(city.center, x, y));
    }
  }

  type RawEdge = { from: number; to: number; kind: StreetKind; name: string };
  const rawEdges: RawEdge[] = [];
  for (let i = 0; i < cols.length; i++) {
    const kind: StreetKind = majorCol(i) ? 'avenue' : 'street';
    for (let j = 0; j + 1 < rows.length; j++) {
      if (kind === 'street' && rng.chance(0.05)) continue;
      rawEdges.push({ from: at(i, j), to: at(i, j + 1), kind, name: `${ordinal(i + 1)} Avenue` });
    }
  }
  for (let j = 0; j < rows.length; j++) {
    const kind: StreetKind = majorRow(j) ? 'avenue' : 'street';
    for (let i = 0; i + 1 < cols.length; i++) {
      if (kind === 'street' && rng.chance(0.08)) continue;
      rawEdges.push({ from: at(i, j), to: at(i + 1, j), kind, name: `${ordinal(j + 1)} Street` });
    }
  }
  // Two diagonals through intersections: i - j = -d1 and i + j = s2 meet at a node when s2 + d1 is even.
  const d1 = Math.floor(rows.length / 5);
  let s2 = cols.length - 1 - Math.floor(cols.length / 6);
  if ((s2 + d1) % 2 !== 0) s2 -= 1;
  for (let i = 0; i + 1 < cols.length && i + d1 + 1 < rows.length; i++) {
    rawEdges.push({ from: at(i, i + d1), to: at(i + 1, i + d1 + 1), kind: 'diagonal', name: 'Broadway' });
  }
  for (let j = 0; j + 1 < rows.length && s2 - j - 1 >= 0; j++) {
    rawEdges.push({ from: at(s2 - j, j), to: at(s2 - j - 1, j + 1), kind: 'diagonal', name: 'Diagonal Avenue' });
  }

  return keepConnected(city, raw, rawEdges, at(Math.floor(cols.length / 2), Math.floor(rows.length / 2)));
}

/** Keeps the component containing `root` (breadth-first) and renumbers nodes and edges densely. */
function keepConnected(
  city: CityConfig,
  raw: readonly LatLng[],
  rawEdges: readonly { from: number; to: number; kind: StreetKind; name: string }[],
  root: number,
): StreetGraph {
  const rawAdj: number[][] = raw.map(() => []);
  for (const e of rawEdges) {
    rawAdj[e.from]!.push(e.to);
    rawAdj[e.to]!.push(e.from);
  }
  const newId = new Int32Array(raw.length).fill(-1);
  const order: number[] = [root];
  newId[root] = 0;
  for (let k = 0; k < order.length; k++) {
    for (const n of rawAdj[order[k]!]!) {
      if (newId[n] === -1) {
        newId[n] = order.length;
        order.push(n);
      }
    }
  }
  const nodes: StreetNode[] = order.map((old, id) => ({ id, lat: raw[old]!.lat, lng: raw[old]!.lng }));
  const edges: StreetEdge[] = [];
  const adjacency: Neighbour[][] = nodes.map(() => []);
  for (const e of rawEdges) {
    const from = newId[e.from]!;
    const to = newId[e.to]!;
    if (from < 0 || to < 0) continue;
    const id = edges.length;
    edges.push({ id, from, to, kind: e.kind, name: e.name, lengthMeters: distanceMeters(nodes[from]!, nodes[to]!) });
    adjacency[from]!.push({ node: to, edge: id });
    adjacency[to]!.push({ node: from, edge: id });
  }
  return { city, nodes, edges, adjacency };
}
