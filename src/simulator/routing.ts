import { distanceMeters, type LatLng } from '../../domain/geo.ts';
import type { Random } from './random.ts';
import type { StreetGraph } from './streets.ts';

/** A drivable path: the node ids it passes and the points to follow, first to last. */
export interface Route {
  readonly nodes: readonly number[];
  readonly points: readonly LatLng[];
  readonly lengthMeters: number;
}

/** Binary min-heap of node ids keyed by priority; small, since the graphs are a few thousand nodes. */
function createHeap() {
  const ids: number[] = [];
  const keys: number[] = [];
  const swap = (a: number, b: number) => {
    [ids[a], ids[b]] = [ids[b]!, ids[a]!];
    [keys[a], keys[b]] = [keys[b]!, keys[a]!];
  };
  return {
    get size() {
      return ids.length;
    },
    push(id: number, key: number) {
      ids.push(id);
      keys.push(key);
      for (let i = ids.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (keys[parent]! <= keys[i]!) break;
        swap(i, parent);
        i = parent;
      }
    },
    pop(): number {
      const top = ids[0]!;
      const lastId = ids.pop()!;
      const lastKey = keys.pop()!;
      if (ids.length > 0) {
        ids[0] = lastId;
        keys[0] = lastKey;
        for (let i = 0; ; ) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < ids.length && keys[l]! < keys[m]!) m = l;
          if (r < ids.length && keys[r]! < keys[m]!) m = r;
          if (m === i) break;
          swap(i, m);
          i = m;
        }
      }
      return top;
    },
  };
}

/**
 * A* over the street graph with the great-circle distance as heuristic: it never
 * overestimates (edge lengths are great-circle distances too), so the path is a shortest one.
 * Returns null when `to` cannot be reached.
 */
export function shortestPath(graph: StreetGraph, from: number, to: number): Route | null {
  const { nodes, adjacency, edges } = graph;
  const target = nodes[to];
  if (!nodes[from] || !target) return null;
  const cost = new Float64Array(nodes.length).fill(Infinity);
  const previous = new Int32Array(nodes.length).fill(-1);
  const done = new Uint8Array(nodes.length);
  const open = createHeap();
  cost[from] = 0;
  open.push(from, distanceMeters(nodes[from]!, target));
  while (open.size > 0) {
    const current = open.pop();
    if (current === to) break;
    if (done[current]) continue;
    done[current] = 1;
    for (const { node, edge } of adjacency[current]!) {
      const candidate = cost[current]! + edges[edge]!.lengthMeters;
      if (candidate < cost[node]!) {
        cost[node] = candidate;
        previous[node] = current;
        open.push(node, candidate + distanceMeters(nodes[node]!, target));
      }
    }
  }
  if (cost[to] === Infinity) return null;
  const path: number[] = [];
  for (let n = to; n !== -1; n = previous[n]!) path.push(n);
  path.reverse();
  return { nodes: path, points: path.map((id) => ({ lat: nodes[id]!.lat, lng: nodes[id]!.lng })), lengthMeters: cost[to]! };
}

/** The intersection nearest to `p` (linear scan: a city has a few thousand at most). */
export function nearestNode(graph: StreetGraph, p: LatLng): number {
  const cosLat = Math.cos((p.lat * Math.PI) / 180);
  let best = 0;
  let bestD = Infinity;
  const { nodes } = graph;
  for (let i = 0; i < nodes.length; i++) {
    const dy = nodes[i]!.lat - p.lat;
    const dx = (nodes[i]!.lng - p.lng) * cosLat;
    const d = dx * dx + dy * dy;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

/**
 * A route between two arbitrary points: each end is snapped to its nearest intersection and
 * the exact points are kept as the first and last legs, so a driver starts where it is.
 */
export function routeBetween(graph: StreetGraph, from: LatLng, to: LatLng): Route {
  const a = nearestNode(graph, from);
  const b = nearestNode(graph, to);
  const core = shortestPath(graph, a, b) ?? { nodes: [a], points: [graph.nodes[a]!], lengthMeters: 0 };
  const points = [from, ...core.points, to];
  let lengthMeters = 0;
  for (let i = 1; i < points.length; i++) lengthMeters += distanceMeters(points[i - 1]!, points[i]!);
  return { nodes: core.nodes, points, lengthMeters };
}

const lerp = (a: LatLng, b: LatLng, t: number): LatLng => ({ lat: a.lat + (b.lat - a.lat) * t, lng: a.lng + (b.lng - a.lng) * t });

const cumulativeLengths = new WeakMap<StreetGraph, Float64Array>();

/** A point on a street, uniform over the network's length (longer streets get more points). */
export function randomStreetPoint(graph: StreetGraph, rng: Random): LatLng {
  let cumulative = cumulativeLengths.get(graph);
  if (!cumulative) {
    cumulative = new Float64Array(graph.edges.length);
    let sum = 0;
    for (let i = 0; i < graph.edges.length; i++) cumulative[i] = sum += graph.edges[i]!.lengthMeters;
    cumulativeLengths.set(graph, cumulative);
  }
  const r = rng.next() * (cumulative[cumulative.length - 1] ?? 0);
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! < r) lo = mid + 1;
    else hi = mid;
  }
  const edge = graph.edges[lo]!;
  return lerp(graph.nodes[edge.from]!, graph.nodes[edge.to]!, rng.next());
}

/** A point on a street close to `p`: part-way along one of the streets leaving the nearest intersection. */
export function streetPointNear(graph: StreetGraph, p: LatLng, rng: Random): LatLng {
  const node = nearestNode(graph, p);
  const out = graph.adjacency[node]!;
  const here = graph.nodes[node]!;
  if (out.length === 0) return { lat: here.lat, lng: here.lng };
  const { node: other } = rng.pick(out);
  return lerp(here, graph.nodes[other]!, rng.between(0, 0.5));
}
