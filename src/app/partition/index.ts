import { Counter, Gauge } from 'prom-client';
import type { Channels } from '../../../domain/ports/channels.ts';
import type { Recorded } from '../../../domain/ports/event-log.ts';
import type { PartitionedConsumer } from '../../../domain/ports/partitions.ts';
import type { ScreeningStore } from '../../../domain/ports/screening.ts';
import type { Logger } from '../../../domain/ports/logger.ts';
import type { Fleet } from '../../../projections/fleet/index.ts';
import type { LiveHub } from '../live/hub.ts';
import type { Metrics } from '../metrics.ts';
import type { LocationMessage } from '../messages.ts';
import { makeFleetFeed } from './fleet-feed.ts';
import { makeLiveRelay } from './live-relay.ts';
import { makeSharedScreening } from './screening.ts';

/** What partitioned GPS work needs from the infrastructure (a shared Redis). */
export interface GpsPartitioning {
  /** Hands this instance the GPS partitions it owns. */
  readonly consumer: PartitionedConsumer;
  /** Ride channels (live push) and the fleet feed. */
  readonly channels: Channels;
  /** Screening neighbours shared by every instance. */
  readonly screening: ScreeningStore;
  /** FLEET_FEED_MS. */
  readonly fleetFeedMs: number;
}

/**
 * GPS work partitioned by driver shard (README "Scaling out"): the per-driver work (smoothing,
 * ETA, arrival, the trip's track) runs on the one instance that owns the driver's shard; what the
 * others need of it reaches them without reading the stream: positions for their fleet index (the
 * feed), locations of the rides their sockets watch (ride channels), screening state (the store).
 */
export function makePartitionedGps(ctx: { readonly fleet: Fleet; readonly metrics: Pick<Metrics, 'registry'>; readonly logger: Logger }, p: GpsPartitioning, instanceId: string, deps: { localLatest: (rideId: string) => LocationMessage | null; hub: () => LiveHub }) {
  const relay = makeLiveRelay({ channels: p.channels, instanceId, keepMs: 10 * 60_000, localLatest: deps.localLatest, logger: ctx.logger });
  const feed = makeFleetFeed({ channels: p.channels, instanceId, fleet: ctx.fleet, intervalMs: p.fleetFeedMs, toFleetWatchers: (m) => deps.hub().publishToFleet(m as never) });
  // Per instance, so a test (and an operator) sees each point handled by one instance only.
  const handled = new Counter({ name: 'ridecast_gps_points_handled_total', help: 'GPS stream entries this instance handled as the owner of their shard', registers: [ctx.metrics.registry] });
  new Gauge({ name: 'ridecast_gps_shards_owned', help: 'GPS shards this instance owns now', registers: [ctx.metrics.registry], collect() { this.set(p.consumer.owned().length); } });
  return {
    screening: makeSharedScreening(p.screening),
    /** The hub the tracker pushes to on the owner: its own sockets, the ride's channel (if watched elsewhere), the fleet feed. */
    ownerHub(hub: LiveHub): LiveHub {
      return {
        ...hub,
        publishLocation(m: LocationMessage) {
          hub.publishLocation(m);
          relay.published(m);
          feed.moved(m);
        },
      };
    },
    /** The hub the sockets use: a watch joins its ride's channel first. */
    socketHub: (hub: LiveHub): LiveHub => relay.wrap(hub),
    owned: () => p.consumer.owned(),
    async start(batchHandler: (events: readonly Recorded[]) => Promise<void>): Promise<void> {
      await feed.start();
      // Before the first point: who watches which ride elsewhere decides what is published.
      await relay.start();
      await p.consumer.start(async (events) => {
        await batchHandler(events);
        handled.inc(events.length);
      });
    },
    async stop(): Promise<void> {
      await p.consumer.close();
      await feed.stop();
      await relay.stop();
    },
  };
}

export type PartitionedGps = ReturnType<typeof makePartitionedGps>;
