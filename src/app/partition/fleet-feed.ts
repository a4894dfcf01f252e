import type { Channels } from '../../../domain/ports/channels.ts';
import type { Recorded } from '../../../domain/ports/event-log.ts';
import type { LocationRecorded } from '../../../domain/tracking/events.ts';
import type { Fleet } from '../../../projections/fleet/index.ts';
import type { LocationMessage } from '../messages.ts';

export interface FleetFeedOptions {
  readonly channels: Channels;
  readonly instanceId: string;
  readonly fleet: Fleet;
  /** Each driver's newest position goes out at most once per interval (FLEET_FEED_MS). */
  readonly intervalMs: number;
  /** Operators' sockets on this instance see the feed's positions of drivers read elsewhere. */
  readonly toFleetWatchers: (message: LocationMessage) => void;
}

const CHANNEL = 'fleet';
const SHOWN_KEPT = 200_000;

/**
 * Every instance's rbush index needs every available driver (a ride request may be matched by any
 * instance's matcher member, and its nearest drivers may sit in any GPS shard), but matching only
 * needs a position a second or two old, not every point. So each shard owner collects the newest
 * smoothed position per driver it moved and publishes them as one message per interval; every other
 * instance moves those drivers in its own index. It carries positions only: availability, holds
 * and rides come from the `drivers` and `rides` streams, which every instance reads.
 */
export function makeFleetFeed(o: FleetFeedOptions) {
  const pending = new Map<string, LocationMessage>();
  /** Drivers whose position this owner has published (insertion order, oldest forgotten first). */
  const shown = new Set<string>();
  let timer: NodeJS.Timeout | undefined;

  function flush(): void {
    if (pending.size === 0) return;
    o.channels.publish(CHANNEL, JSON.stringify({ o: o.instanceId, d: [...pending.values()] }));
    pending.clear();
  }

  function received(raw: string): void {
    const { o: origin, d } = JSON.parse(raw) as { o: string; d: LocationMessage[] };
    if (origin === o.instanceId) return;
    for (const m of d) {
      const recordedAt = Date.parse(m.recordedAt);
      const moved = o.fleet.moveDriver(
        { type: 'LocationRecorded', data: { driverId: m.driverId, recordedAt }, metadata: { key: m.driverId, eventId: m.eventId } } as unknown as Recorded<LocationRecorded>,
        { lat: m.lat, lng: m.lng, heading: m.heading, speed: m.speed },
      );
      if (moved) o.toFleetWatchers(m);
    }
  }

  return {
    /** A position this instance (the driver's shard owner) just showed. */
    moved(message: LocationMessage): void {
      // A driver this owner had not shown yet (just online, or just taken over) goes out at once:
      // until the others know where they are, their matchers cannot offer them anything.
      const fresh = !shown.has(message.driverId);
      pending.set(message.driverId, message);
      if (fresh) {
        shown.add(message.driverId);
        if (shown.size > SHOWN_KEPT) shown.delete(shown.values().next().value!);
        flush();
      }
    },
    async start(): Promise<void> {
      await o.channels.subscribe(CHANNEL, received);
      timer = setInterval(flush, o.intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      clearInterval(timer);
      flush();
      await o.channels.unsubscribe(CHANNEL);
    },
  };
}
