import { describe, expect, it } from 'vitest';
import { distanceMeters, type LatLng } from '../domain/geo.ts';
import { followRoute, gpsFix } from '../src/simulator/movement.ts';
import { createRandom } from '../src/simulator/random.ts';
import { nearestNode, randomStreetPoint, routeBetween, shortestPath, streetPointNear } from '../src/simulator/routing.ts';
import { cityOutline, streetsToGeoJson } from '../src/simulator/streets-geojson.ts';
import { DEFAULT_CITY, generateStreets, type StreetGraph } from '../src/simulator/streets.ts';

const graph = generateStreets();

/** Plain O(V²) Dijkstra: slow, obviously right, the answer A* must match. */
function bruteForceDistance(g: StreetGraph, from: number, to: number): number {
  const dist = g.nodes.map(() => Infinity);
  const done = g.nodes.map(() => false);
  dist[from] = 0;
  for (;;) {
    let u = -1;
    for (let i = 0; i < dist.length; i++) if (!done[i] && (u === -1 || dist[i]! < dist[u]!)) u = i;
    if (u === -1 || dist[u] === Infinity) break;
    done[u] = true;
    for (const { node, edge } of g.adjacency[u]!) dist[node] = Math.min(dist[node]!, dist[u]! + g.edges[edge]!.lengthMeters);
  }
  return dist[to]!;
}

/** Distance from p to the segment ab, in metres (flat approximation, fine at city scale). */
function distanceToSegment(p: LatLng, a: LatLng, b: LatLng): number {
  const k = Math.cos((a.lat * Math.PI) / 180);
  const [px, py, ax, ay, bx, by] = [p.lng * k, p.lat, a.lng * k, a.lat, b.lng * k, b.lat];
  const len2 = (bx - ax) ** 2 + (by - ay) ** 2;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / len2));
  return distanceMeters(p, { lat: ay + t * (by - ay), lng: (ax + t * (bx - ax)) / k });
}

const onSomeEdge = (g: StreetGraph, p: LatLng) => g.edges.some((e) => distanceToSegment(p, g.nodes[e.from]!, g.nodes[e.to]!) < 0.5);

describe('street network', () => {
  it('given the same config, then the same streets; given another seed, then other streets', () => {
    expect(generateStreets()).toEqual(graph);
    const other = generateStreets({ seed: 2 });
    expect(other.nodes.length).toBeGreaterThan(100);
    expect(other.nodes.map((n) => [n.lat, n.lng])).not.toEqual(graph.nodes.map((n) => [n.lat, n.lng]));
  });

  it('has a city-sized grid with avenues, streets and diagonals, all inside the box', () => {
    expect(graph.nodes.length).toBeGreaterThan(400);
    const kinds = new Set(graph.edges.map((e) => e.kind));
    expect(kinds).toEqual(new Set(['avenue', 'street', 'diagonal']));
    const [ring] = cityOutline(graph).coordinates;
    const [west, south] = ring![0]!;
    const [east, north] = ring![2]!;
    expect(distanceMeters({ lat: south, lng: west }, { lat: south, lng: east })).toBeCloseTo(DEFAULT_CITY.widthMeters, -1);
    expect(distanceMeters({ lat: south, lng: west }, { lat: north, lng: west })).toBeCloseTo(DEFAULT_CITY.heightMeters, -1);
  });

  it('every node reaches every other (the graph is connected)', () => {
    const seen = new Set([0]);
    const queue = [0];
    while (queue.length) for (const { node } of graph.adjacency[queue.pop()!]!) if (!seen.has(node) && seen.add(node)) queue.push(node);
    expect(seen.size).toBe(graph.nodes.length);
  });

  it('edges are real blocks: lengths match their ends and lie between 40 m and 700 m, no self-loops', () => {
    for (const e of graph.edges) {
      expect(e.from).not.toBe(e.to);
      expect(e.lengthMeters).toBeCloseTo(distanceMeters(graph.nodes[e.from]!, graph.nodes[e.to]!), 6);
      expect(e.lengthMeters).toBeGreaterThan(40);
      expect(e.lengthMeters).toBeLessThan(700);
    }
  });

  it('the GeoJSON draws every edge exactly once, as LineStrings', () => {
    const fc = streetsToGeoJson(graph);
    const drawn: string[] = [];
    for (const f of fc.features) {
      expect(f.geometry.type).toBe('LineString');
      expect(f.geometry.coordinates.length).toBeGreaterThanOrEqual(2);
      const cs = f.geometry.coordinates;
      for (let i = 1; i < cs.length; i++) drawn.push([cs[i - 1]!.join(), cs[i]!.join()].sort().join('|'));
    }
    const key = (id: number) => `${(Math.round(graph.nodes[id]!.lng * 1e6) / 1e6)},${Math.round(graph.nodes[id]!.lat * 1e6) / 1e6}`;
    const expected = graph.edges.map((e) => [key(e.from), key(e.to)].sort().join('|'));
    expect(drawn.sort()).toEqual(expected.sort());
  });
});

describe('routing', () => {
  it('A* finds a path along edges whose length is the brute-force shortest distance', () => {
    const rng = createRandom(7);
    for (let i = 0; i < 15; i++) {
      const a = rng.int(graph.nodes.length);
      const b = rng.int(graph.nodes.length);
      const route = shortestPath(graph, a, b)!;
      expect(route.nodes[0]).toBe(a);
      expect(route.nodes.at(-1)).toBe(b);
      let sum = 0;
      for (let k = 1; k < route.nodes.length; k++) {
        const step = graph.adjacency[route.nodes[k - 1]!]!.find((n) => n.node === route.nodes[k]);
        expect(step, 'consecutive route nodes share an edge').toBeDefined();
        sum += graph.edges[step!.edge]!.lengthMeters;
      }
      expect(route.lengthMeters).toBeCloseTo(sum, 6);
      expect(route.lengthMeters).toBeCloseTo(bruteForceDistance(graph, a, b), 6);
    }
  });

  it('a route between two street points starts and ends exactly at them', () => {
    const rng = createRandom(3);
    const from = randomStreetPoint(graph, rng);
    const to = randomStreetPoint(graph, rng);
    const route = routeBetween(graph, from, to);
    expect(route.points[0]).toEqual(from);
    expect(route.points.at(-1)).toEqual(to);
    expect(route.lengthMeters).toBeGreaterThanOrEqual(distanceMeters(from, to) - 1e-6);
  });

  it('random and nearby street points lie on a street', () => {
    const rng = createRandom(11);
    for (let i = 0; i < 20; i++) {
      const p = randomStreetPoint(graph, rng);
      expect(onSomeEdge(graph, p)).toBe(true);
      expect(onSomeEdge(graph, streetPointNear(graph, { lat: p.lat + 0.001, lng: p.lng }, rng))).toBe(true);
    }
  });

  it('the nearest node is the one a linear search over distances picks', () => {
    const p = { lat: 38.7213, lng: -9.1388 };
    const best = graph.nodes.reduce((a, b) => (distanceMeters(p, a) <= distanceMeters(p, b) ? a : b));
    expect(nearestNode(graph, p)).toBe(best.id);
  });
});

describe('driving and GPS', () => {
  it('a car follows its route at city speeds and stops at the end', () => {
    const rng = createRandom(5);
    const route = routeBetween(graph, randomStreetPoint(graph, rng), randomStreetPoint(graph, rng));
    const car = followRoute(route, rng);
    let last = route.points[0]!;
    let seconds = 0;
    while (!car.arrived && seconds < 3600) {
      const m = car.advance(1);
      seconds++;
      expect(m.speed).toBeLessThanOrEqual(15);
      expect(distanceMeters(last, m.position)).toBeLessThanOrEqual(15.01);
      last = m.position;
    }
    expect(car.arrived).toBe(true);
    expect(last).toEqual(route.points.at(-1));
    const average = route.lengthMeters / seconds;
    expect(average).toBeGreaterThan(4);
    expect(average).toBeLessThan(15);
  });

  it('GPS fixes are a few metres off, claim a plausible accuracy and carry a valid heading', () => {
    const rng = createRandom(9);
    const position = { lat: 38.72, lng: -9.14 };
    for (let i = 0; i < 200; i++) {
      const fix = gpsFix({ position, heading: 359.9, speed: 11 }, rng, new Date(0));
      expect(distanceMeters(position, fix)).toBeLessThan(40);
      expect(fix.accuracy).toBeGreaterThanOrEqual(3);
      expect(fix.accuracy).toBeLessThanOrEqual(12);
      expect(fix.heading).toBeGreaterThanOrEqual(0);
      expect(fix.heading).toBeLessThan(360);
      expect(fix.recordedAt).toBe('1970-01-01T00:00:00.000Z');
    }
  });

  it('the seeded random source replays, and its Poisson counts have the asked-for mean', () => {
    const a = createRandom(1);
    const b = createRandom(1);
    expect(Array.from({ length: 5 }, a.next)).toEqual(Array.from({ length: 5 }, b.next));
    let total = 0;
    for (let i = 0; i < 5000; i++) total += a.poisson(1.5);
    expect(total / 5000).toBeCloseTo(1.5, 1);
  });
});
