import { isStaff, type Actor } from '../../domain/actor.ts';
import { DomainError, notFound } from '../../domain/errors.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import type { RideEvent, RideOffered } from '../../domain/ride/index.ts';
import { FINAL_STATUSES } from '../../domain/ride/index.ts';
import { canSeeView, type RideView } from '../../projections/rides/view.ts';
import type { Context } from './context.ts';
import { rideStatusMessage, type LocationMessage } from './messages.ts';

/** One connected socket, as the hub sees it. The HTTP adapter makes it from a WebSocket. */
export interface Peer {
  readonly actor: Actor;
  /** A share token's ride: this peer may watch that ride only. */
  readonly shareRideId?: string;
  send(message: string): void;
  /** Bytes queued in the socket and not yet sent: how far behind the client is. */
  buffered(): number;
  close(code: number, reason: string): void;
}

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
 * Who watches what, and delivery to them. Every instance runs one, fed by its own broadcast
 * consumer, so a rider's socket may live on any instance.
 */
export function makeLiveHub(ctx: Context, options: LiveHubOptions) {
  const byRide = new Map<string, Set<Peer>>();
  const byUser = new Map<string, Set<Peer>>();
  const fleetWatchers = new Set<Peer>();
  /** While a peer replays a ride, live messages for it wait here so order holds and nothing is lost. */
  const replaying = new Map<Peer, Map<string, Message[]>>();

  /** `queueFor`: the ride whose replay this message must wait behind (offers wait for nothing). */
  function deliver(peer: Peer, message: Message, queueFor = message.rideId): void {
    const queue = queueFor ? replaying.get(peer)?.get(queueFor) : undefined;
    if (queue) return void queue.push(message);
    if (peer.buffered() > options.maxBufferedBytes) {
      ctx.metrics.socketsClosedSlow.inc();
      return peer.close(SLOW_CONSUMER, 'SLOW_CONSUMER');
    }
    peer.send(JSON.stringify(message));
    ctx.metrics.pushed.inc({ type: message.type });
  }

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

  /** Sends what the peer missed after `after`, in log order, or says it cannot (trimmed or unknown). */
  async function replay(peer: Peer, rideId: string, after: string): Promise<void> {
    const history = (await options.rideHistory(rideId)).map((e) => ({ at: e.metadata.recordedAtMs, message: rideStatusMessage(e) as Message }));
    const track = (await ctx.readModel.track(rideId)).map((p) => ({
      at: p.loggedAt,
      message: { type: 'driver.location', rideId, driverId: null, lat: p.lat, lng: p.lng, heading: null, speed: null,
        recordedAt: new Date(p.recordedAt).toISOString(), etaSeconds: null, eventId: p.eventId } as Message,
    }));
    const merged = [...history, ...track].sort((a, b) => a.at - b.at);
    const from = merged.findIndex((m) => m.message.eventId === after);
    if (from < 0) {
      deliver(peer, { type: 'error', code: 'REPLAY_GAP', rideId, message: `cannot replay after ${after}: reload the ride` });
      return snapshot(peer, rideId);
    }
    for (const m of merged.slice(from + 1)) deliver(peer, m.message);
  }

  async function snapshot(peer: Peer, rideId: string): Promise<void> {
    const last = (await options.rideHistory(rideId)).at(-1);
    if (last) deliver(peer, rideStatusMessage(last));
    const location = options.latestLocation(rideId);
    if (location) deliver(peer, location as unknown as Message);
  }

  return {
    connect(peer: Peer) {
      add(byUser, peer.actor.userId, peer);
      ctx.metrics.sockets.inc();
    },
    disconnect(peer: Peer) {
      remove(byUser, peer.actor.userId, peer);
      for (const [rideId, set] of byRide) if (set.has(peer)) remove(byRide, rideId, peer);
      fleetWatchers.delete(peer);
      replaying.delete(peer);
      ctx.metrics.sockets.dec();
    },
    socketsOf: (userId: string) => byUser.get(userId)?.size ?? 0,

    async subscribe(peer: Peer, rideId: string, after?: string): Promise<void> {
      await authorize(peer, rideId);
      const waiting = new Map(replaying.get(peer) ?? []).set(rideId, []);
      replaying.set(peer, waiting);
      add(byRide, rideId, peer);
      try {
        peer.send(JSON.stringify({ type: 'subscribed', rideId }));
        if (after) await replay(peer, rideId, after);
        else await snapshot(peer, rideId);
      } finally {
        const queued = replaying.get(peer)?.get(rideId) ?? [];
        replaying.get(peer)?.delete(rideId);
        const sent = new Set<string>();
        for (const m of queued) if (!m.eventId || !sent.has(m.eventId)) (sent.add(m.eventId ?? ''), deliver(peer, m));
      }
    },
    unsubscribe(peer: Peer, rideId: string) {
      remove(byRide, rideId, peer);
    },
    watchFleet(peer: Peer, snapshotMessage: Message) {
      if (!isStaff(peer.actor)) throw new DomainError('FORBIDDEN', 403, 'only operators may watch the whole fleet');
      fleetWatchers.add(peer);
      deliver(peer, snapshotMessage);
    },

    /** A ride event: `ride.status` to the ride's watchers, `ride.offer` to the offered driver. */
    publishRideEvent(e: Recorded<RideEvent>, extra: Record<string, unknown> = {}) {
      const message = { ...rideStatusMessage(e), ...extra } as Message;
      for (const peer of byRide.get(e.metadata.key) ?? []) deliver(peer, message);
      for (const peer of fleetWatchers) deliver(peer, message);
      if (e.type === 'RideOffered') publishOffer(e as Recorded<RideOffered>, extra);
    },
    publishLocation(message: LocationMessage) {
      if (message.rideId) for (const peer of byRide.get(message.rideId) ?? []) deliver(peer, message as unknown as Message);
      for (const peer of fleetWatchers) deliver(peer, message as unknown as Message);
    },
    publishToFleet(message: Message) {
      for (const peer of fleetWatchers) deliver(peer, message);
    },
    /** Closes every socket (shutdown) with 1001 going away. */
    closeAll() {
      for (const set of byUser.values()) for (const peer of set) peer.close(1001, 'server shutting down');
    },
  };

  function publishOffer(e: Recorded<RideOffered>, extra: Record<string, unknown>) {
    const { driverId, expiresAt, distanceMeters, etaSeconds } = e.data;
    const offer = {
      type: 'ride.offer', rideId: e.metadata.key, pickup: extra.pickup, dropoff: extra.dropoff, distanceMeters, etaSeconds,
      expiresAt: new Date(expiresAt).toISOString(), eventId: e.metadata.eventId,
    };
    for (const peer of byUser.get(driverId) ?? []) if (!peer.shareRideId) deliver(peer, offer, null);
  }
}

export type LiveHub = ReturnType<typeof makeLiveHub>;
