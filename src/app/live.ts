import { isStaff, type Actor } from '../../domain/actor.ts';
import { DomainError, notFound } from '../../domain/errors.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import type { RideEvent, RideOffered } from '../../domain/ride/index.ts';
import { FINAL_STATUSES } from '../../domain/ride/index.ts';
import { canSeeView, type RideView } from '../../projections/rides/view.ts';
import type { RideReadModel } from '../../domain/ports/read-model.ts';
import type { Fleet } from '../../projections/fleet/index.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { Peer } from '../../domain/ports/live-feed.ts';
import { rideStory, type StoryItem } from './ride-story.ts';
import { foldRideContexts, rideOfferMessage, rideStatusMessage, type LocationMessage, type RideContext } from './messages.ts';

export type { Peer } from '../../domain/ports/live-feed.ts';

type Message = { type: string; eventId?: string; rideId?: string | null } & Record<string, unknown>;

export interface LiveHubOptions {
  /** A peer with more than this queued is too slow: it is closed rather than let memory grow. */
  readonly maxBufferedBytes: number;
  /** The ride as the log has it (authorization and replay). */
  readonly rideView: (rideId: string) => Promise<RideView | null>;
  readonly rideHistory: (rideId: string) => Promise<Recorded<RideEvent>[]>;
  readonly latestLocation: (rideId: string) => LocationMessage | null;
}

/** 1013 "try again later": the client may reconnect with `after` and catch up from the log. */
export const SLOW_CONSUMER = 1013;

/**
 * One peer's watch of one ride. Everything it is sent goes through `pass`, which keeps it in log
 * order and free of repeats however replay, snapshot and live push overlap.
 */
interface Watch {
  readonly rideId: string;
  /** The ride version last sent: a ride event at or below it was already seen. */
  version: number;
  /** Device time of the last location sent: an older or equal one was seen, or is late. */
  locationAt: number;
  /** While the watch replays from the log, live messages wait here (then pass the same filter). */
  queue: { message: Message; version?: number; last?: boolean }[] | null;
  ended: boolean;
}

/** What a peer may see of one ride event: all of it, this one and then no more, or nothing. */
type Verdict = 'yes' | 'last' | 'no';

/** The hub's mark for one ride: the last ride version and location it pushed. */
interface Published {
  version: number;
  location: LocationMessage | null;
  /** Device time of `location`; +Infinity once the ride is over (every location it had was pushed). */
  locationAt: number;
}

/**
 * Who watches what, and delivery to them. Every instance runs one, fed by its own broadcast
 * consumer, so a rider's socket may live on any instance.
 */
export function makeLiveHub(ctx: { readonly metrics: Pick<Metrics, 'sockets' | 'socketsClosedSlow' | 'pushed'>; readonly readModel: RideReadModel; readonly fleet: Fleet; readonly logger: Logger; readonly now: () => number }, options: LiveHubOptions) {
  const peers = new Set<Peer>();
  const byRide = new Map<string, Set<Peer>>();
  const byUser = new Map<string, Set<Peer>>();
  const watches = new Map<Peer, Map<string, Watch>>();
  const fleetWatchers = new Set<Peer>();
  /** The last offer each driver peer was sent, so a reconnect lookup and the live push never both arrive. */
  const offersSent = new WeakMap<Peer, string>();
  /**
   * How far this hub has pushed each ride: the last ride version and location. A new watch is cut
   * there: what lies before comes from the log (replay or snapshot), what lies after comes live, so
   * the two meet without a gap, a repeat, or a later event overtaking an earlier one.
   */
  const published = new Map<string, Published>();
  /** Finished rides' marks, oldest dropped first (what follows completion is still pushed). */
  const publishedDone = new Map<string, Published>();
  const PUBLISHED_DONE_KEPT = 10_000;

  const add = <K>(map: Map<K, Set<Peer>>, key: K, peer: Peer) => {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(peer);
  };
  const remove = <K>(map: Map<K, Set<Peer>>, key: K, peer: Peer) => {
    const set = map.get(key);
    set?.delete(peer);
    if (set?.size === 0) map.delete(key);
  };

  /** Sends, unless the peer is too far behind: then it is dropped and closed (1013), never buffered further. */
  function send(peer: Peer, message: Message): boolean {
    if (!peers.has(peer)) return false;
    if (peer.buffered() > options.maxBufferedBytes) {
      ctx.metrics.socketsClosedSlow.inc();
      forget(peer);
      peer.close(SLOW_CONSUMER, 'SLOW_CONSUMER');
      return false;
    }
    peer.send(jsonOf(message));
    pushedOf(message.type).inc();
    return true;
  }

  /** One message goes to every watcher of a ride (and every fleet watcher): serialised once, not per recipient. */
  const serialised = new WeakMap<Message, string>();
  function jsonOf(message: Message): string {
    let json = serialised.get(message);
    if (json === undefined) serialised.set(message, (json = JSON.stringify(message)));
    return json;
  }
  /** The counter's child per message type, looked up once (labels are hashed on every inc otherwise). */
  const pushedByType = new Map<string, { inc(): void }>();
  function pushedOf(type: string) {
    let child = pushedByType.get(type);
    if (!child) pushedByType.set(type, (child = ctx.metrics.pushed.labels({ type })));
    return child;
  }

  function forget(peer: Peer): void {
    if (!peers.delete(peer)) return;
    remove(byUser, peer.actor.userId, peer);
    for (const watch of watches.get(peer)?.values() ?? []) {
      watch.ended = true;
      remove(byRide, watch.rideId, peer);
    }
    watches.delete(peer);
    fleetWatchers.delete(peer);
    ctx.metrics.sockets.dec();
  }

  function endWatch(peer: Peer, watch: Watch, tell: boolean): void {
    if (watch.ended) return;
    watch.ended = true;
    remove(byRide, watch.rideId, peer);
    const mine = watches.get(peer);
    if (mine?.get(watch.rideId) === watch) mine.delete(watch.rideId);
    if (tell) send(peer, { type: 'unsubscribed', rideId: watch.rideId });
  }

  /** Whether `peer` may see the ride as it stands after `e`, `context` being the ride after it. */
  function verdict(peer: Peer, context: RideContext): Verdict {
    if (peer.shareRideId !== undefined)
      return peer.shareRideId !== context.rideId ? 'no' : FINAL_STATUSES.has(context.status) ? 'last' : 'yes';
    const { userId } = peer.actor;
    if (isStaff(peer.actor) || userId === context.riderId || userId === context.driverId || userId === context.offeredTo) return 'yes';
    // The driver who declined or let the offer lapse hears that much, and then nothing more of the ride.
    if (userId === context.offerEndedFor) return 'last';
    return 'no';
  }

  /** Sends a ride-scoped message through the watch's filter (order, no repeats). */
  function pass(peer: Peer, watch: Watch, message: Message, version?: number, last = false): void {
    if (watch.ended) return;
    if (watch.queue) return void watch.queue.push({ message, version, last });
    if (message.type === 'driver.location') {
      const at = Date.parse(message.recordedAt as string);
      if (at <= watch.locationAt) return;
      watch.locationAt = at;
    } else if (version !== undefined) {
      if (version <= watch.version) return;
      watch.version = version;
    }
    send(peer, message);
    if (last) endWatch(peer, watch, true);
  }

  async function authorize(peer: Peer, rideId: string): Promise<RideView> {
    const view = await options.rideView(rideId);
    if (peer.shareRideId !== undefined) {
      if (peer.shareRideId !== rideId || !view) throw notFound(`ride ${rideId}`);
      if (FINAL_STATUSES.has(view.status)) throw new DomainError('SHARE_EXPIRED', 403, 'this shared trip has ended');
      return view;
    }
    if (!view || !canSeeView(peer.actor, view)) throw notFound(`ride ${rideId}`);
    return view;
  }

  /** Sends what the peer missed after `after`, in log order, or says it cannot (trimmed or unknown) and sends the state. */
  async function replay(peer: Peer, watch: Watch, after: string, cut: Published | null): Promise<void> {
    const items = rideStory(await options.rideHistory(watch.rideId), await ctx.readModel.track(watch.rideId));
    const from = items.findIndex((m) => m.message.eventId === after);
    if (from < 0) {
      send(peer, { type: 'error', code: 'REPLAY_GAP', rideId: watch.rideId, message: `cannot replay after ${after}: here is the current state` });
      return snapshot(peer, watch, cut);
    }
    // What the client saw up to `after` is its baseline: nothing at or before it comes again.
    for (const item of items.slice(0, from + 1)) {
      if (item.version !== undefined) watch.version = Math.max(watch.version, item.version);
      if (item.deviceAt !== undefined) watch.locationAt = Math.max(watch.locationAt, item.deviceAt);
    }
    // Up to the cut from the log; past it, live (queued meanwhile).
    const beforeCut = (item: StoryItem) =>
      !cut || (item.version !== undefined ? item.version <= cut.version : (item.deviceAt ?? Infinity) <= cut.locationAt);
    const queue = watch.queue;
    watch.queue = null;
    try {
      for (const item of items.slice(from + 1)) if (beforeCut(item)) pass(peer, watch, item.message, item.version, sharedTripEnds(peer, item.final));
    } finally {
      watch.queue = queue;
    }
  }

  /** The ride as it stood at the cut: its last ride event and the driver's last location, if any. */
  async function snapshot(peer: Peer, watch: Watch, cut: Published | null): Promise<void> {
    const history = foldRideContexts(await options.rideHistory(watch.rideId));
    const last = cut ? history.filter((h) => h.event.metadata.version <= cut.version).at(-1) : history.at(-1);
    const location = cut ? cut.location : options.latestLocation(watch.rideId);
    const queue = watch.queue;
    watch.queue = null;
    try {
      if (last) {
        const final = !!last.context && FINAL_STATUSES.has(last.context.status);
        pass(peer, watch, rideStatusMessage(last.event, last.context) as Message, last.event.metadata.version, sharedTripEnds(peer, final));
      }
      if (location) pass(peer, watch, location as unknown as Message);
    } finally {
      watch.queue = queue;
    }
  }

  /** A share token's watch ends with the trip (as it does live), even when the end comes from the log. */
  const sharedTripEnds = (peer: Peer, final = false) => final && peer.shareRideId !== undefined;

  /** This hub's mark for a ride, copied (null: never pushed here, so the log alone tells). */
  function cutOf(rideId: string): Published | null {
    const mark = published.get(rideId) ?? publishedDone.get(rideId);
    return mark ? { ...mark } : null;
  }

  /** A driver who (re)connects while an offer for them is open is told about it at once. */
  async function pendingOffer(peer: Peer): Promise<void> {
    const rideId = ctx.fleet.get(peer.actor.userId)?.offeredRideId;
    if (!rideId) return;
    const history = await options.rideHistory(rideId);
    const folded = foldRideContexts(history).at(-1);
    const offered = history.filter((e): e is Recorded<RideOffered> => e.type === 'RideOffered').at(-1);
    if (!folded?.context || !offered || folded.context.offeredTo !== peer.actor.userId || offered.data.expiresAt <= ctx.now()) return;
    sendOffer(peer, rideOfferMessage(offered, folded.context));
  }

  function sendOffer(peer: Peer, offer: ReturnType<typeof rideOfferMessage>): void {
    if (offersSent.get(peer) === offer.eventId) return;
    if (send(peer, offer)) offersSent.set(peer, offer.eventId);
  }

  return {
    connect(peer: Peer) {
      if (peers.has(peer)) return;
      peers.add(peer);
      add(byUser, peer.actor.userId, peer);
      ctx.metrics.sockets.inc();
      if (peer.actor.role === 'driver' && peer.shareRideId === undefined)
        void pendingOffer(peer).catch((err) => ctx.logger.warn({ err }, 'pending offer lookup failed'));
    },
    /** Idempotent: a socket's `error` and `close` both end here. */
    disconnect(peer: Peer) {
      forget(peer);
    },
    socketsOf: (userId: string) => byUser.get(userId)?.size ?? 0,
    /** Rides this peer watches (tests, diagnostics). */
    watching: (peer: Peer) => [...(watches.get(peer)?.keys() ?? [])],

    /**
     * Starts (or restarts) a watch: `subscribed`, then the replay after `after` or the current state,
     * then live. Live messages that arrive meanwhile wait and pass the same filter, so the client
     * sees the log's order with nothing twice.
     */
    async subscribe(peer: Peer, rideId: string, after?: string): Promise<void> {
      await authorize(peer, rideId);
      if (!peers.has(peer)) return;
      const mine = watches.get(peer) ?? new Map<string, Watch>();
      watches.set(peer, mine);
      const earlier = mine.get(rideId);
      if (earlier) endWatch(peer, earlier, false);
      const watch: Watch = { rideId, version: 0, locationAt: -Infinity, queue: [], ended: false };
      mine.set(rideId, watch);
      add(byRide, rideId, peer);
      // Taken in the same tick as the watch starts queueing: everything pushed later is in the queue.
      const cut = cutOf(rideId);
      try {
        send(peer, { type: 'subscribed', rideId });
        if (after) await replay(peer, watch, after, cut);
        else await snapshot(peer, watch, cut);
      } finally {
        const queued = watch.queue ?? [];
        watch.queue = null;
        for (const q of queued) pass(peer, watch, q.message, q.version, q.last);
      }
    },
    unsubscribe(peer: Peer, rideId: string) {
      const watch = watches.get(peer)?.get(rideId);
      if (watch) endWatch(peer, watch, false);
    },
    watchFleet(peer: Peer, snapshotMessage: Message) {
      if (!isStaff(peer.actor)) throw new DomainError('FORBIDDEN', 403, 'only operators may watch the whole fleet');
      if (!peers.has(peer)) return;
      fleetWatchers.add(peer);
      send(peer, snapshotMessage);
    },

    /** A ride event, `context` being the ride after it: `ride.status` to the watchers who may still see the ride. */
    publishRideEvent(e: Recorded<RideEvent>, context: RideContext) {
      const rideId = e.metadata.key;
      const mark = published.get(rideId) ?? publishedDone.get(rideId) ?? { version: 0, location: null, locationAt: -Infinity };
      mark.version = Math.max(mark.version, e.metadata.version);
      if (FINAL_STATUSES.has(context.status)) {
        published.delete(rideId);
        Object.assign(mark, { location: null, locationAt: Infinity });
        publishedDone.delete(rideId);
        publishedDone.set(rideId, mark);
        if (publishedDone.size > PUBLISHED_DONE_KEPT) publishedDone.delete(publishedDone.keys().next().value!);
      } else {
        published.set(rideId, mark);
      }
      const message = rideStatusMessage(e, context) as Message;
      for (const peer of [...(byRide.get(e.metadata.key) ?? [])]) {
        const watch = watches.get(peer)?.get(e.metadata.key);
        if (!watch) continue;
        const v = verdict(peer, context);
        if (v === 'no') endWatch(peer, watch, true);
        else pass(peer, watch, message, e.metadata.version, v === 'last');
      }
      for (const peer of fleetWatchers) send(peer, message);
    },
    /** `ride.offer` to the offered driver's sockets, without any subscription. */
    publishOffer(e: Recorded<RideOffered>, ride: { pickup: RideContext['pickup']; dropoff: RideContext['dropoff'] }) {
      if (e.data.expiresAt <= ctx.now()) return; // a consumer catching up: that offer is gone already
      const offer = rideOfferMessage(e, ride);
      for (const peer of [...(byUser.get(e.data.driverId) ?? [])]) if (peer.shareRideId === undefined) sendOffer(peer, offer);
    },
    publishLocation(message: LocationMessage) {
      const mark = message.rideId ? published.get(message.rideId) : undefined;
      if (mark) {
        mark.location = message;
        mark.locationAt = Date.parse(message.recordedAt);
      }
      if (message.rideId)
        for (const peer of [...(byRide.get(message.rideId) ?? [])]) {
          const watch = watches.get(peer)?.get(message.rideId);
          if (watch) pass(peer, watch, message as unknown as Message);
        }
      for (const peer of fleetWatchers) send(peer, message as unknown as Message);
    },
    publishToFleet(message: Message) {
      for (const peer of fleetWatchers) send(peer, message);
    },
    /** Closes every socket (shutdown) with 1001 going away. */
    closeAll() {
      for (const peer of [...peers]) {
        forget(peer);
        peer.close(1001, 'server shutting down');
      }
    },
  };
}

export type LiveHub = ReturnType<typeof makeLiveHub>;
