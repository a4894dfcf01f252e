import type { Channels } from '../../../domain/ports/channels.ts';
import type { Peer } from '../../../domain/ports/live-feed.ts';
import type { LiveHub } from '../live/hub.ts';
import type { LocationMessage } from '../messages.ts';

export interface LiveRelayOptions {
  readonly channels: Channels;
  readonly instanceId: string;
  /** How long a ride channel keeps its latest location for a newcomer (covers a pause of the driver). */
  readonly keepMs: number;
  /** The newest location this instance itself pushed for a ride (it owned the driver's shard then). */
  readonly localLatest: (rideId: string) => LocationMessage | null;
  readonly logger: { warn(o: object, m?: string): void };
}

const channelOf = (rideId: string) => `ride:${rideId}`;

/**
 * Live push of locations without broadcast: the driver's shard owner publishes each on-ride
 * location on the ride's channel (`ride:<id>`, latest kept); an instance subscribes to a ride's
 * channel only while one of its sockets watches that ride, and hands what arrives to its hub as if
 * its own tracker had pushed it (the hub's per-watch filter drops repeats). Ride events need no
 * relay: every instance reads the `rides` stream. A watch starts at once (its cut as without a
 * relay) while the channel is joined; then the channel's kept latest location is handed over, so the
 * watch has the driver's newest position. A location published between the cut and the join that is
 * not the newest is not pushed live (the track has it, so a resume with `after` replays it).
 */
export function makeLiveRelay(o: LiveRelayOptions) {
  const peersOf = new Map<string, Set<Peer>>();
  const ridesOf = new Map<Peer, Set<string>>();
  /** Device time of the newest location handed to the hub per subscribed ride. */
  const newest = new Map<string, number>();
  let hub: LiveHub | undefined;

  function deliver(m: LocationMessage): void {
    if (!m.rideId || !peersOf.has(m.rideId)) return;
    const at = Date.parse(m.recordedAt);
    const own = o.localLatest(m.rideId);
    if (at <= (newest.get(m.rideId) ?? -Infinity) || (own && Date.parse(own.recordedAt) >= at)) return;
    newest.set(m.rideId, at);
    hub?.publishLocation(m);
  }

  function received(raw: string): void {
    const { o: origin, m } = JSON.parse(raw) as { o: string; m: LocationMessage };
    if (origin !== o.instanceId) deliver(m);
  }

  async function watch(peer: Peer, rideId: string): Promise<void> {
    let peers = peersOf.get(rideId);
    const first = !peers;
    if (!peers) peersOf.set(rideId, (peers = new Set()));
    peers.add(peer);
    let rides = ridesOf.get(peer);
    if (!rides) ridesOf.set(peer, (rides = new Set()));
    rides.add(rideId);
    if (!first) return;
    await o.channels.subscribe(channelOf(rideId), received);
    const latest = await o.channels.latest(channelOf(rideId));
    if (latest) received(latest);
  }

  function unwatch(peer: Peer, rideId: string): void {
    ridesOf.get(peer)?.delete(rideId);
    const peers = peersOf.get(rideId);
    if (!peers?.delete(peer) || peers.size > 0) return;
    peersOf.delete(rideId);
    newest.delete(rideId);
    void o.channels.unsubscribe(channelOf(rideId)).catch((err) => o.logger.warn({ err, rideId }, 'ride channel unsubscribe failed'));
  }

  return {
    /** The owner side: a location this instance's tracker pushed goes out on the ride's channel. */
    published(m: LocationMessage): void {
      if (m.rideId) o.channels.publish(channelOf(m.rideId), JSON.stringify({ o: o.instanceId, m }), o.keepMs);
    },
    /**
     * The hub the sockets use: the same, except that a watch first joins the ride's channel and a
     * socket's going leaves the channels nobody else here watches.
     */
    wrap(inner: LiveHub): LiveHub {
      hub = inner;
      return {
        ...inner,
        async subscribe(peer: Peer, rideId: string, after?: string) {
          try {
            // At once, not after the channel: the watch's cut is as early as without a relay. The
            // channel's kept latest, read once it is joined, then reaches the watch through the
            // hub's filter (older or equal dropped).
            await Promise.all([watch(peer, rideId), inner.subscribe(peer, rideId, after)]);
          } catch (err) {
            unwatch(peer, rideId);
            throw err;
          }
        },
        unsubscribe(peer: Peer, rideId: string) {
          inner.unsubscribe(peer, rideId);
          unwatch(peer, rideId);
        },
        disconnect(peer: Peer) {
          inner.disconnect(peer);
          for (const rideId of [...(ridesOf.get(peer) ?? [])]) unwatch(peer, rideId);
          ridesOf.delete(peer);
        },
      };
    },
  };
}
