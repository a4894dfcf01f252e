import type { StreetGraph, StreetKind } from './streets.ts';

/** GeoJSON position: [lng, lat]. */
export type Position = [number, number];

export interface StreetFeature {
  type: 'Feature';
  properties: { name: string; kind: StreetKind };
  geometry: { type: 'LineString'; coordinates: Position[] };
}

/** What the map draws: one LineString per unbroken run of a named street. */
export interface StreetFeatureCollection {
  type: 'FeatureCollection';
  features: StreetFeature[];
}

// 6 decimals is ~0.1 m: finer precision would only make the payload bigger.
const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

/**
 * Draws the graph as GeoJSON. Edges of the same street are chained into polylines so the
 * map gets tens of features, not thousands; a street with a missing block becomes two.
 */
export function streetsToGeoJson(graph: StreetGraph): StreetFeatureCollection {
  const byName = new Map<string, number[]>();
  for (const e of graph.edges) {
    const list = byName.get(e.name);
    if (list) list.push(e.id);
    else byName.set(e.name, [e.id]);
  }
  const features: StreetFeature[] = [];
  for (const [name, edgeIds] of byName) {
    const kind = graph.edges[edgeIds[0]!]!.kind;
    for (const chain of chains(graph, edgeIds)) {
      features.push({
        type: 'Feature',
        properties: { name, kind },
        geometry: {
          type: 'LineString',
          coordinates: chain.map((id): Position => [round6(graph.nodes[id]!.lng), round6(graph.nodes[id]!.lat)]),
        },
      });
    }
  }
  return { type: 'FeatureCollection', features };
}

/** Splits a set of edges into node paths: each walk starts at a dead end where there is one. */
function chains(graph: StreetGraph, edgeIds: readonly number[]): number[][] {
  const local = new Map<number, { node: number; edge: number }[]>();
  const link = (a: number, b: number, edge: number) => {
    const list = local.get(a);
    if (list) list.push({ node: b, edge });
    else local.set(a, [{ node: b, edge }]);
  };
  for (const id of edgeIds) {
    const e = graph.edges[id]!;
    link(e.from, e.to, id);
    link(e.to, e.from, id);
  }
  const used = new Set<number>();
  const result: number[][] = [];
  const starts = [...local.keys()].sort((a, b) => local.get(a)!.length - local.get(b)!.length);
  for (const start of starts) {
    for (;;) {
      const path = [start];
      let at = start;
      for (;;) {
        const step = local.get(at)!.find((n) => !used.has(n.edge));
        if (!step) break;
        used.add(step.edge);
        path.push(step.node);
        at = step.node;
      }
      if (path.length < 2) break;
      result.push(path);
    }
  }
  return result;
}

/** The city box as a GeoJSON Polygon (closed ring, [lng, lat]), e.g. as the demo's service area. */
export function cityOutline(graph: StreetGraph): { type: 'Polygon'; coordinates: Position[][] } {
  let [south, north, west, east] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const n of graph.nodes) {
    south = Math.min(south, n.lat);
    north = Math.max(north, n.lat);
    west = Math.min(west, n.lng);
    east = Math.max(east, n.lng);
  }
  const ring: Position[] = [[west, south], [east, south], [east, north], [west, north], [west, south]];
  return { type: 'Polygon', coordinates: [ring.map(([lng, lat]): Position => [round6(lng), round6(lat)])] };
}
