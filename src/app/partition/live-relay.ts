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
  /** How often this instance restates the rides its sockets watch and rereads the others' (default 10 s). */
  readonly refreshMs?: number;
  /** A statement lapses this long after it was last restated: an instance gone without a word (default 6 refreshes). */
  readonly lapseMs?: number;
}

const channelOf = (rideId: string) => `ride:${rideId}`;
/** Where instances say that they start (`+`) or stop (`-`) watching a ride: `<op><instanceId>\n<rideId>`. */
const WATCHERS = 'ride-watchers';

/**
 * Live push of locations without broadcast, and without a publish nobody reads: the driver's shard
 * owner publishes an on-ride location on the ride's channel (`ride:<id>`, latest kept) only while
 * another instance has a socket watching that ride. An instance joins a ride's channel while one
 * of its sockets watches the ride and hands what arrives to its hub as if its own tracker had
 * pushed it (the hub's per-watch filter drops repeats). Ride events need no relay: every instance
 * reads the `rides` stream.
 *
 * Who watches what elsewhere: each instance states its watched rides in a shared set
 * (`Channels.declare`, restated every `refreshMs`, lapsing after `lapseMs`) and says each change on
 * the `ride-watchers` channel; every instance follows that channel and rereads the set every
 * `refreshMs` (which also repairs a change missed while Pub/Sub reconnected), so the publish
 * decision per point is one map lookup. An instance that takes over a shard knows already: every
 * instance follows every ride's watchers, owned or not.
 *
 * A newcomer misses nothing that matters: it joins the ride's channel, then states its interest,
 * then reads the channel's kept latest. Whoever hears the statement and has pushed a location of
 * the ride answers with its newest one on the channel; every point it handles after that is
 * published. So the watch gets the newest position (the answer, or the kept latest when the
 * driver paused and the shard changed hands), then every later point. A watch starts at once (its
 * cut as without a relay); a location handled between the cut and the join that is not the newest
 * is not pushed live (the track has it, so a resume with `after` replays it). The kept latest may
 * be older than the answer (nobody published while nobody watched); the per-ride filter below and
 * the hub's per-watch filter let only newer locations follow it.
 *
 * Messages are `<instanceId>\n<json>`, so an instance drops its own echo (it watches a ride it
 * owns too) without parsing it.
 */
export function makeLiveRelay(o: LiveRelayOptions) {
  const me = o.instanceId;
  const mine = `${me}\n`;
  const refreshMs = o.refreshMs ?? 10_000;
  const lapseMs = o.lapseMs ?? 6 * refreshMs;
  const peersOf = new Map<string, Set<Peer>>();
  const ridesOf = new Map<Peer, Set<string>>();
  /** Device time of the newest location handed to the hub per subscribed ride. */
  const newest = new Map<string, number>();
  /** Rides watched by a socket on another instance, and which instances. */
  let elsewhere = new Map<string, Set<string>>();
  /** Statements heard while the shared set is being reread: applied again on top of what it returns. */
  let heardDuringRead: string[] | null = null;
  let refreshing = false;
  let timer: NodeJS.Timeout | undefined;
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
    if (raw.startsWith(mine)) return; // our own publish, back from the channel
    deliver(JSON.parse(raw.slice(raw.indexOf('\n') + 1)) as LocationMessage);
  }

  function send(m: LocationMessage): void {
    o.channels.publish(channelOf(m.rideId!), mine + JSON.stringify(m), o.keepMs);
  }

  function apply(statement: string, into: Map<string, Set<string>>): { who: string; rideId: string; op: string } {
    const at = statement.indexOf('\n');
    const op = statement[0]!;
    const who = statement.slice(1, at);
    const rideId = statement.slice(at + 1);
    if (who === me) return { who, rideId, op };
    let set = into.get(rideId);
    if (op === '+') {
      if (!set) into.set(rideId, (set = new Set()));
      set.add(who);
    } else if (set?.delete(who) && set.size === 0) into.delete(rideId);
    return { who, rideId, op };
  }

  /** A statement on `ride-watchers`. A newcomer is answered with the newest location pushed here. */
  function heard(statement: string): void {
    heardDuringRead?.push(statement);
    const { who, rideId, op } = apply(statement, elsewhere);
    if (who === me || op !== '+') return;
    const latest = o.localLatest(rideId);
    if (latest) send(latest);
  }

  async function refresh(): Promise<void> {
    if (refreshing) return;
    refreshing = true;
    try {
      await o.channels.declare(me, [...peersOf.keys()], lapseMs);
      heardDuringRead = [];
      const next = new Map<string, Set<string>>();
      for (const [who, rideId] of await o.channels.listening()) apply(`+${who}\n${rideId}`, next);
      // What was said while the read was under way may or may not be in it: said again, it is.
      for (const statement of heardDuringRead) apply(statement, next);
      elsewhere = next;
    } finally {
      heardDuringRead = null;
      refreshing = false;
    }
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
    // Joined before the statement, so the owner's answer and every point after it arrive here.
    await o.channels.subscribe(channelOf(rideId), received);
    await o.channels.declare(me, [rideId], lapseMs);
    if (!peersOf.has(rideId)) return void withdraw(rideId); // the watch ended meanwhile
    o.channels.publish(WATCHERS, `+${me}\n${rideId}`);
    const latest = await o.channels.latest(channelOf(rideId));
    if (latest) received(latest);
  }

  function withdraw(rideId: string): void {
    o.channels
      .withdraw(me, [rideId])
      .then(() => o.channels.publish(WATCHERS, `-${me}\n${rideId}`))
      .catch((err) => o.logger.warn({ err, rideId }, 'ride watch withdrawal failed (it lapses by itself)'));
  }

  function unwatch(peer: Peer, rideId: string): void {
    ridesOf.get(peer)?.delete(rideId);
    const peers = peersOf.get(rideId);
    if (!peers?.delete(peer) || peers.size > 0) return;
    peersOf.delete(rideId);
    newest.delete(rideId);
    withdraw(rideId);
    void o.channels.unsubscribe(channelOf(rideId)).catch((err) => o.logger.warn({ err, rideId }, 'ride channel unsubscribe failed'));
  }

  return {
    /** The owner side: a location this instance's tracker pushed goes out on the ride's channel if another instance watches the ride. */
    published(m: LocationMessage): void {
      if (m.rideId && elsewhere.has(m.rideId)) send(m);
    },
    /** Follows the others' statements and reads the shared set before this instance handles any point. */
    async start(): Promise<void> {
      await o.channels.subscribe(WATCHERS, heard);
      // Not fatal: the timer tries again (meanwhile, only points of rides watched elsewhere go unpublished).
      await refresh().catch((err) => o.logger.warn({ err }, 'ride watchers not read yet'));
      timer = setInterval(() => void refresh().catch((err) => o.logger.warn({ err }, 'ride watchers refresh failed')), refreshMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      clearInterval(timer);
      // Not awaited: a stop must not wait on an unreachable Redis (what is not withdrawn lapses).
      const rides = [...peersOf.keys()];
      void o.channels.unsubscribe(WATCHERS).catch(() => undefined);
      void o.channels
        .withdraw(me, rides)
        .then(() => rides.forEach((rideId) => o.channels.publish(WATCHERS, `-${me}\n${rideId}`)))
        .catch(() => undefined);
    },
    /** Rides this instance knows another instance watches (tests, diagnostics). */
    watchedElsewhere: (rideId: string) => elsewhere.has(rideId),
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
