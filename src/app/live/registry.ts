import type { Peer } from '../../../domain/ports/live-feed.ts';

/** What the registry needs of a watch: the ride it follows, and a way to stop it. */
export interface Watched {
  readonly rideId: string;
  end(): void;
}

/**
 * Who is connected and who watches what: the peers, each user's peers (the socket limit, offers),
 * each ride's watchers, and the operators watching the whole fleet. Bookkeeping only: it sends nothing.
 */
export function makeRegistry<W extends Watched>() {
  const peers = new Set<Peer>();
  const byUser = new Map<string, Set<Peer>>();
  /** Each ride's watches by peer: a point reaches its watchers with one lookup, not two per watcher. */
  const byRide = new Map<string, Map<Peer, W>>();
  const watches = new Map<Peer, Map<string, W>>();
  const fleet = new Set<Peer>();

  const add = <K>(map: Map<K, Set<Peer>>, key: K, peer: Peer) => {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(peer);
  };
  /** Takes the peer out of the key's set (a user's peers) or map (a ride's watches); an empty one goes. */
  const remove = <K>(map: Map<K, { delete(peer: Peer): boolean; readonly size: number }>, key: K, peer: Peer) => {
    const of = map.get(key);
    of?.delete(peer);
    if (of?.size === 0) map.delete(key);
  };

  return {
    connected: (peer: Peer) => peers.has(peer),
    /** False when the peer was already connected. */
    connect(peer: Peer): boolean {
      if (peers.has(peer)) return false;
      peers.add(peer);
      add(byUser, peer.actor.userId, peer);
      return true;
    },
    /** Ends the peer's watches and forgets it; false when it was not connected. */
    forget(peer: Peer): boolean {
      if (!peers.delete(peer)) return false;
      remove(byUser, peer.actor.userId, peer);
      for (const watch of watches.get(peer)?.values() ?? []) {
        watch.end();
        remove(byRide, watch.rideId, peer);
      }
      watches.delete(peer);
      fleet.delete(peer);
      return true;
    },
    /** Starts `watch` for the peer; returns the watch of the same ride it replaces, if any (still to be ended). */
    startWatch(peer: Peer, watch: W): W | undefined {
      let mine = watches.get(peer);
      if (!mine) watches.set(peer, (mine = new Map()));
      const earlier = mine.get(watch.rideId);
      mine.set(watch.rideId, watch);
      let ride = byRide.get(watch.rideId);
      if (!ride) byRide.set(watch.rideId, (ride = new Map()));
      ride.set(peer, watch);
      return earlier;
    },
    /** Stops `watch` (if it is still the peer's watch of that ride, it is removed). */
    endWatch(peer: Peer, watch: W): void {
      watch.end();
      const mine = watches.get(peer);
      if (mine?.get(watch.rideId) !== watch) return;
      mine.delete(watch.rideId);
      remove(byRide, watch.rideId, peer);
    },
    watchOf: (peer: Peer, rideId: string) => watches.get(peer)?.get(rideId),
    /**
     * `each(watch, arg)` for every watch of the ride, without copying the list (per point, the
     * copy was garbage): for callers whose `each` ends no watch. A peer dropped meanwhile (too
     * slow) is skipped, as a Map's iteration skips what was deleted.
     */
    forEachWatch<A>(rideId: string, each: (watch: W, arg: A) => void, arg: A): void {
      const ride = byRide.get(rideId);
      if (ride) for (const watch of ride.values()) each(watch, arg);
    },
    /** The ride's watchers and their watches, copied: sending may end watches meanwhile. */
    watchersOf(rideId: string): [Peer, W][] {
      return [...(byRide.get(rideId) ?? [])];
    },
    peersOf: (userId: string): Peer[] => [...(byUser.get(userId) ?? [])],
    socketsOf: (userId: string) => byUser.get(userId)?.size ?? 0,
    watching: (peer: Peer) => [...(watches.get(peer)?.keys() ?? [])],
    watchFleet: (peer: Peer) => void fleet.add(peer),
    fleetWatchers: () => fleet as ReadonlySet<Peer>,
    all: () => [...peers],
  };
}

export type Registry<W extends Watched> = ReturnType<typeof makeRegistry<W>>;
