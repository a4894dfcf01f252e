import RBush from 'rbush';
import { evolveDriver, fixIsFresh, isFree, type DriverEvent, type DriverState } from '../../domain/driver/index.ts';
import { METERS_PER_DEGREE } from '../../domain/geo.ts';
import { systemClock, type Clock } from '../../domain/ports/clock.ts';
import type { Candidate } from '../../domain/matching/policy.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import type { LocationRecorded } from '../../domain/tracking/events.ts';
import { makeKnn, type KnnNode } from './knn.ts';
import { findLeaf, holds, newItem, noteLeaves, type Item } from './leaves.ts';

/** A driver as the index keeps one: the driver decider's state (folded by `evolveDriver`), plus where and how idle. */
export interface FleetDriver extends DriverState {
  readonly driverId: string;
  available: boolean;
  offeredRideId: string | null;
  offerExpiresAt: number | null;
  rideId: string | null;
  /** Latest position (smoothed when the tracker provides it), by device time. */
  position: { lat: number; lng: number; heading: number | null; speed: number | null; recordedAt: number; eventId: string } | null;
  /** Last driver-stream version applied: redeliveries and replays change nothing. */
  version: number;
  /** Since when the driver has been online without a ride (fairness: idle longer wins a near-tie). */
  idleSince: number | null;
  /** When the driver lately declined or let an offer expire, newest last (fairness: offered less). */
  missedOffersAt: number[];
}

/** Missed offers remembered per driver; older ones no longer weigh (domain/matching/dispatch.ts). */
const MISSED_KEPT = 8;

const RAD = Math.PI / 180;

/**
 * Every driver this instance knows of, and an rbush index of those who can be offered a ride
 * (online, not on a ride, with a position). Fed by a broadcast consumer (each instance keeps its
 * own); the index catches up with moves when it is next asked.
 */
export interface FleetOptions {
  referenceLat?: number;
  clock?: Clock;
  /** Children per rbush node (bench/match compares sizes); see NODE_SIZE. */
  nodeSize?: number;
  /** Room around each leaf's box after a bulk load, as a fraction of its size (bench/match compares); see SLACK. */
  slack?: number;
}

/**
 * Children per rbush node: rbush's default, 9. A query is bound by memory, not arithmetic: at 100k
 * drivers it costs ~3 µs when the same pickup is asked again (caches warm) and 12–16 µs at a random
 * pickup, about one cache miss per node, item and driver it touches. Bigger nodes open fewer nodes but
 * touch more items: 16 and 32 cost 10% and 30% more CPU per query (bench match, 1 km, 100k drivers).
 */
export const NODE_SIZE = 9;

/** See noteLeaves. */
export const SLACK = 0.2;

export function makeFleet({ referenceLat, clock = systemClock, nodeSize = NODE_SIZE, slack = SLACK }: FleetOptions = {}) {
  /**
   * Equirectangular x = lng·cos(φ₀) with ONE φ₀ for the whole index (the first fix seen, or the
   * configured city), so planar kNN distances are metric to well under 1% across a city. A per-point
   * φ would skew the space in proportion to longitude. A fleet spanning continents wants one index per region.
   */
  let xScale = referenceLat === undefined ? NaN : Math.cos(referenceLat * RAD);
  const xOf = (lat: number, lng: number) => {
    if (Number.isNaN(xScale)) xScale = Math.cos(lat * RAD);
    return lng * xScale;
  };
  const drivers = new Map<string, FleetDriver>();
  /** What the tree holds, per driver: the item as it sits in the tree, with the leaf that holds it (leaves.ts). */
  const items = new Map<string, Item>();
  const tree = new RBush<Item>(nodeSize);
  const knn = makeKnn<Item>();
  const box = { minX: 0, minY: 0, maxX: 0, maxY: 0 };
  /**
   * Drivers whose position or offerability changed since the tree last saw them. The tree is brought
   * up to date when it is asked (`settle`), not per GPS point: a driver who moved ten times between
   * two queries costs one remove + insert, and a rebuild that replays a million points into an empty
   * index loads the tree once, in bulk, at the end. A driver already in the tree whose point stays
   * within its leaf's box is not marked: moveDriver moves it in place (O(1), no box changes).
   */
  const dirty = new Set<FleetDriver>();
  /**
   * Removes + inserts since the tree was last loaded in bulk. A bulk-loaded tree is packed (few
   * overlapping nodes, so a search visits few); one reshaped by moves drifts towards an insertion
   * tree, which a kNN search pays for (bench match: 1.3–1.8× the CPU per query once 40% of the
   * drivers moved one by one). Once updates one by one reach half the drivers the tree holds, the
   * next settle loads it in bulk again: the cost stays O(1) per move, amortised. Moves in place do
   * not count: they change no box.
   */
  let updatesSinceLoad = 0;
  /** What settle did, counted (bench/match reports it): moves in place, removes + inserts, bulk loads. */
  const settled = { inPlace: 0, oneByOne: 0, bulkLoads: 0 };

  const driver = (driverId: string): FleetDriver => {
    let d = drivers.get(driverId);
    if (!d) drivers.set(driverId, (d = { driverId, available: false, offeredRideId: null, offerExpiresAt: null, rideId: null, position: null, version: 0, idleSince: null, missedOffersAt: [] }));
    return d;
  };

  /**
   * Who the tree holds: drivers who can be offered a ride apart from what changes with the clock
   * (an offer hold's expiry, the fix's age; every query filters those with `freeWithFreshFix`):
   * online, not on a ride, with a position. Busy drivers are left out so a search does not wade
   * through them.
   */
  const offerable = (d: FleetDriver) => d.available && d.rideId === null && d.position !== null;

  const place = (item: Item, d: FleetDriver) => {
    const x = xOf(d.position!.lat, d.position!.lng);
    item.minX = item.maxX = x;
    item.minY = item.maxY = d.position!.lat;
  };

  /**
   * Moved within its leaf's box (most GPS points, with the slack noteLeaves leaves): the point changes
   * in place. Every box above still holds it, so no box changes, and a search (or rbush's own remove,
   * which looks for it by its box) still finds it.
   */
  const moveInPlace = (item: Item, d: FleetDriver): boolean => {
    const leaf = item.leaf;
    const x = xOf(d.position!.lat, d.position!.lng);
    const y = d.position!.lat;
    if (!leaf || x < leaf.minX || x > leaf.maxX || y < leaf.minY || y > leaf.maxY || !holds(leaf, item)) return false;
    item.minX = item.maxX = x;
    item.minY = item.maxY = y;
    settled.inPlace++;
    return true;
  };

  function settle(): void {
    if (dirty.size === 0) return;
    // Many changed (a rebuild, a first load): one bulk load beats a remove + insert each.
    if (dirty.size * 4 >= items.size || (updatesSinceLoad + dirty.size) * 2 >= items.size) {
      updatesSinceLoad = 0;
      settled.bulkLoads++;
      for (const d of dirty) {
        if (!offerable(d)) {
          items.delete(d.driverId);
          continue;
        }
        let item = items.get(d.driverId);
        if (!item) items.set(d.driverId, (item = newItem(d)));
        place(item, d);
      }
      tree.clear();
      tree.load([...items.values()]);
      noteLeaves(tree.toJSON() as KnnNode<Item>, slack);
    } else {
      for (const d of dirty) {
        let item = items.get(d.driverId);
        if (item && offerable(d) && moveInPlace(item, d)) continue;
        updatesSinceLoad++;
        settled.oneByOne++;
        // Out of its leaf: taken out of that leaf alone, boxes left as they are (they still hold every
        // point under them; rbush's remove would shrink them to fit, and the leaf's other drivers, now on
        // its edge, would leave it at their next point). Else found by its box, so it is moved only after.
        if (item && item.leaf && holds(item.leaf, item)) item.leaf.children.splice(item.slot, 1);
        else if (item) tree.remove(item);
        if (!offerable(d)) {
          items.delete(d.driverId);
          continue;
        }
        if (!item) items.set(d.driverId, (item = newItem(d)));
        place(item, d);
        tree.insert(item);
        item.leaf = null;
        findLeaf(tree.toJSON() as KnnNode<Item>, item, slack);
      }
    }
    dirty.clear();
  }

  return {
    get: (driverId: string) => drivers.get(driverId) ?? null,
    all: () => drivers.values(),
    /** Drivers the tree holds (offerable apart from the clock: online, not on a ride, with a position). */
    indexedCount: () => (settle(), items.size),
    /** Brings the tree up to date now (queries do it themselves; a consumer may call it after a batch). */
    settle,
    settleCounts: () => ({ ...settled }),

    applyDriverEvent(event: Recorded<DriverEvent>): FleetDriver {
      const d = driver(event.metadata.key);
      if (event.metadata.version <= d.version) return d;
      d.version = event.metadata.version;
      // Who is free is the decider's fold; the index adds only what fairness needs (idleSince).
      const wasOnRide = d.rideId;
      const next = evolveDriver(d, event);
      d.available = next.available;
      d.offeredRideId = next.offeredRideId;
      d.offerExpiresAt = next.offerExpiresAt;
      d.rideId = next.rideId;
      if (offerable(d) !== items.has(d.driverId)) dirty.add(d);
      const e = event;
      switch (e.type) {
        case 'DriverAvailabilityChanged':
          d.idleSince = e.data.available ? e.data.at : null;
          break;
        case 'DriverAssigned':
          d.idleSince = null;
          break;
        case 'DriverFreed':
          if (wasOnRide === e.data.rideId) d.idleSince = d.available ? e.data.at : null;
          break;
      }
      return d;
    },

    /** The driver declined an offer or let it expire (from the rides stream); a replay adds nothing twice. */
    noteMissedOffer(driverId: string, at: number): void {
      const d = driver(driverId);
      if (d.missedOffersAt.includes(at)) return;
      d.missedOffersAt.push(at);
      d.missedOffersAt.sort((a, b) => a - b);
      if (d.missedOffersAt.length > MISSED_KEPT) d.missedOffersAt.shift();
    },

    /** Moves the driver unless the point is older than what we show (a late point never moves it back). */
    moveDriver(event: Recorded<LocationRecorded>, shown: { lat: number; lng: number; heading: number | null; speed: number | null }): boolean {
      const d = driver(event.metadata.key);
      const p = d.position;
      if (p && p.recordedAt >= event.data.recordedAt) return false;
      // In place: one object per driver, not one per point (readers copy what they keep).
      if (p) (p.lat = shown.lat), (p.lng = shown.lng), (p.heading = shown.heading), (p.speed = shown.speed), (p.recordedAt = event.data.recordedAt), (p.eventId = event.metadata.eventId);
      else d.position = { lat: shown.lat, lng: shown.lng, heading: shown.heading, speed: shown.speed, recordedAt: event.data.recordedAt, eventId: event.metadata.eventId };
      if (!offerable(d)) return true;
      // In the tree and nothing else pending: a move within its leaf's box is done here, so the next
      // query settles only the drivers who left their box (it used to pay for every move since the last).
      const item = dirty.has(d) ? undefined : items.get(d.driverId);
      if (!item || !moveInPlace(item, d)) dirty.add(d);
      return true;
    },

    /** Offerable drivers (online, not on a ride, with a position) nearest to a point, within `maxMeters`, as matching candidates. */
    nearest(at: { lat: number; lng: number }, limit: number, maxMeters: number, filter?: (d: FleetDriver) => boolean): Candidate[] {
      settle();
      const now = clock.now();
      const root = tree.toJSON() as KnnNode<Item>; // the tree's root node itself, not a copy
      return knn(root, xOf(at.lat, at.lng), at.lat, limit, maxMeters / METERS_PER_DEGREE, filter && ((item: Item) => filter(item.driver)), ({ driver: d }): Candidate => ({
        driverId: d.driverId,
        lat: d.position!.lat,
        lng: d.position!.lng,
        fixAt: d.position!.recordedAt,
        free: isFree(d, now),
        idleSince: d.idleSince,
        missedOffersAt: d.missedOffersAt,
      }));
    },

    /**
     * Every indexed (offerable) driver within `maxMeters` of a point, unordered, with the distance in metres (on
     * the index's plane, as `nearest`): one box search of the rbush index and a circle test, no
     * priority queue and no object per driver, for a window that asks this a thousand times at once.
     */
    forEachWithin(at: { lat: number; lng: number }, maxMeters: number, visit: (d: FleetDriver, meters: number) => void): void {
      settle();
      const x = xOf(at.lat, at.lng);
      const y = at.lat;
      const r = maxMeters / METERS_PER_DEGREE;
      box.minX = x - r;
      box.maxX = x + r;
      box.minY = y - r;
      box.maxY = y + r;
      const found = tree.search(box);
      for (let i = 0; i < found.length; i++) {
        const item = found[i]!;
        const dx = item.minX - x;
        const dy = item.minY - y;
        const d2 = dx * dx + dy * dy;
        if (d2 <= r * r) visit(item.driver, Math.sqrt(d2) * METERS_PER_DEGREE);
      }
    },
  };
}

export type Fleet = ReturnType<typeof makeFleet>;

/**
 * Offerable, or listed as nearby, at `at`: free by the driver decider's rule (`isFree`), with a fix
 * fresh enough to say where they are. The index has no rule of its own.
 */
export const freeWithFreshFix = (d: FleetDriver, at: number, freshnessMs: number) =>
  isFree(d, at) && d.position !== null && fixIsFresh(d.position.recordedAt, at, freshnessMs);
