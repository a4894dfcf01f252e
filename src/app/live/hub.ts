import { isStaff } from '../../../domain/actor.ts';
import { DomainError } from '../../../domain/errors.ts';
import type { Clock } from '../../../domain/ports/clock.ts';
import type { Recorded } from '../../../domain/ports/event-log.ts';
import type { LiveFeed, LiveMessage, Peer } from '../../../domain/ports/live-feed.ts';
import type { TrackPoint } from '../../../domain/ports/read-model.ts';
import {
  FINAL_STATUSES, foldRide, mustFollow, offerLapsed, rideOfferMessage, rideOfferWithdrawnMessage, rideStatusMessage, visibility,
  type OfferWithdrawn, type Ride, type RideEvent, type RideOffered, type RideOfferMessage,
} from '../../../domain/ride/index.ts';
import type { LocationMessage } from '../messages.ts';
import type { Metrics } from '../metrics.ts';
import { makeCatchUp } from './catch-up.ts';
import { makeMarks, makeWatch, type Watch } from './cut.ts';
import { makeFanout } from './fanout.ts';
import { makeRegistry } from './registry.ts';

export { SLOW_CONSUMER } from './fanout.ts';

export interface LiveHubDeps {
  readonly clock: Clock;
  readonly metrics: Pick<Metrics, 'pushed' | 'socketsClosedSlow' | 'sockets'>;
  readonly logger: { warn(o: object, m?: string): void };
  /** A peer with more than this queued is too slow: it is closed rather than let memory grow. */
  readonly maxBufferedBytes: number;
  /** The ride as the log has it now (who may subscribe). */
  readonly ride: (rideId: string) => Promise<Ride | null>;
  readonly rideHistory: (rideId: string) => Promise<readonly Recorded<RideEvent>[]>;
  readonly rideTrack: (rideId: string) => Promise<readonly TrackPoint[]>;
  readonly latestLocation: (rideId: string) => LocationMessage | null;
  /** The ride a driver holds an open offer for, as the fleet knows it (a reconnecting driver is told). */
  readonly offeredRideOf: (driverId: string) => string | null;
}

/**
 * The live feed: who watches what (registry), what a new watch gets from the log and what live
 * (cut, catch-up), and writing to sockets (fan-out). Every instance runs one, fed by its own
 * consumer, so a rider's socket may live on any instance. Who may see what is `visibility`'s call.
 */
export function makeLiveHub(deps: LiveHubDeps) {
  const { clock, metrics, logger } = deps;
  const registry = makeRegistry<Watch>();
  const marks = makeMarks();
  const fanout = makeFanout({ maxBufferedBytes: deps.maxBufferedBytes, metrics, connected: registry.connected, drop: forget });
  const send = fanout.send;
  const catchUp = makeCatchUp({ ...deps, send });
  /** The last offer each driver peer was sent, so a reconnect lookup and the live push never both arrive. */
  const offersSent = new WeakMap<Peer, string>();

  function forget(peer: Peer): void {
    if (registry.forget(peer)) metrics.sockets.dec();
  }

  function endWatch(peer: Peer, watch: Watch, tell: boolean): void {
    if (watch.ended) return;
    registry.endWatch(peer, watch);
    if (tell) send(peer, { type: 'unsubscribed', rideId: watch.rideId });
  }

  function sendOffer(peer: Peer, offer: RideOfferMessage): void {
    if (offersSent.get(peer) === offer.eventId) return;
    if (send(peer, offer)) offersSent.set(peer, offer.eventId);
  }

  /** A driver who (re)connects while an offer for them is open is told about it at once. */
  async function pendingOffer(peer: Peer): Promise<void> {
    const rideId = deps.offeredRideOf(peer.actor.userId);
    if (!rideId) return;
    const history = await deps.rideHistory(rideId);
    const ride = foldRide(history).at(-1)?.ride;
    const me = peer.actor.userId;
    const offered = history.filter((e): e is Recorded<RideOffered> => e.type === 'RideOffered' && e.data.driverId === me).at(-1);
    const open = ride?.offers.find((o) => o.driverId === me); // with fan-out, one of several
    if (!ride || !open || !offered || offerLapsed(open, clock.now())) return;
    sendOffer(peer, rideOfferMessage(offered, ride));
  }

  const liveTo = (watch: Watch, message: LiveMessage) => watch.live(message);

  const feed: LiveFeed = {
    connect(peer) {
      if (!registry.connect(peer)) return;
      metrics.sockets.inc();
      if (peer.actor.role === 'driver' && peer.shareRideId === undefined)
        void pendingOffer(peer).catch((err) => logger.warn({ err }, 'pending offer lookup failed'));
    },
    disconnect: forget,
    socketsOf: registry.socketsOf,

    /**
     * `subscribed`, then the replay after `after` or the current state, then live. Live messages that
     * arrive meanwhile wait and pass the same filter, so the client sees the log's order with nothing twice.
     */
    async subscribe(peer, rideId, after) {
      mustFollow(peer, rideId, await deps.ride(rideId));
      if (!registry.connected(peer)) return;
      const watch: Watch = makeWatch(rideId, { send: (m) => void send(peer, m), last: () => endWatch(peer, watch, true) });
      const earlier = registry.startWatch(peer, watch);
      if (earlier) endWatch(peer, earlier, false);
      // Taken in the same tick as the watch starts holding live messages: everything pushed later is held.
      const cut = marks.cutOf(rideId);
      try {
        send(peer, { type: 'subscribed', rideId });
        if (after) await catchUp.replay(peer, watch, after, cut);
        else await catchUp.snapshot(peer, watch, cut);
      } finally {
        watch.goLive();
      }
    },
    unsubscribe(peer, rideId) {
      const watch = registry.watchOf(peer, rideId);
      if (watch) endWatch(peer, watch, false);
    },
    watchFleet(peer, snapshot) {
      if (!isStaff(peer.actor)) throw new DomainError('FORBIDDEN', 403, 'only operators may watch the whole fleet');
      if (!registry.connected(peer)) return;
      registry.watchFleet(peer);
      send(peer, snapshot);
    },
    closeAll() {
      for (const peer of registry.all()) {
        forget(peer);
        peer.close(1001, 'server shutting down');
      }
    },
  };

  return {
    ...feed,
    /** Rides this peer watches (tests, diagnostics). */
    watching: registry.watching,

    /** A ride event, `ride` being the ride after it: `ride.status` to the watchers who may still see it. */
    publishRideEvent(e: Recorded<RideEvent>, ride: Ride) {
      marks.rideEvent(e.metadata.key, e.metadata.version, FINAL_STATUSES.has(ride.status));
      const message = rideStatusMessage(e, ride) as LiveMessage;
      for (const [peer, watch] of registry.watchersOf(e.metadata.key)) {
        const seen = visibility(peer, ride);
        if (seen === 'no') endWatch(peer, watch, true);
        else watch.live(message, e.metadata.version, seen === 'last');
      }
      for (const peer of registry.fleetWatchers()) send(peer, message);
    },
    /** `ride.offer` to the offered driver's sockets, without any subscription. */
    publishOffer(e: Recorded<RideOffered>, ride: Ride) {
      if (offerLapsed(e.data, clock.now())) return; // a consumer catching up: that offer is gone already
      const offer = rideOfferMessage(e, ride);
      for (const peer of registry.peersOf(e.data.driverId)) if (peer.shareRideId === undefined) sendOffer(peer, offer);
    },
    /** `ride.offer.withdrawn` to the driver whose fanned-out offer was taken back, without any subscription. */
    publishOfferWithdrawn(e: Recorded<OfferWithdrawn>) {
      const message = rideOfferWithdrawnMessage(e) as unknown as LiveMessage;
      for (const peer of registry.peersOf(e.data.driverId)) if (peer.shareRideId === undefined) send(peer, message);
    },
    publishLocation(message: LocationMessage) {
      marks.location(message);
      const live = message as unknown as LiveMessage;
      // Per point: no copy of the watchers, no iterator over an empty fleet set.
      if (message.rideId) registry.forEachWatch(message.rideId, liveTo, live);
      const fleet = registry.fleetWatchers();
      if (fleet.size > 0) for (const peer of fleet) send(peer, live);
    },
    publishToFleet(message: LiveMessage) {
      for (const peer of registry.fleetWatchers()) send(peer, message);
    },
  };
}

export type LiveHub = ReturnType<typeof makeLiveHub>;
