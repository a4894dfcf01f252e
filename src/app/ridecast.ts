import { systemActor } from '../../domain/actor.ts';
import type { DriverEvent } from '../../domain/driver/index.ts';
import type { EventsOf, Recorded, StreamName, Subscription } from '../../domain/ports/event-log.ts';
import type { DriverPositions } from '../../domain/ports/positions.ts';
import type { RideEvent } from '../../domain/ride/index.ts';
import type { ArrivalRules } from '../../domain/tracking/arrival.ts';
import type { TrackingRules } from '../../domain/tracking/clean.ts';
import { straightLineEta, type EtaEstimator } from '../../domain/tracking/eta.ts';
import { defaultFairnessRules } from '../../domain/matching/dispatch.ts';
import type { LocationRecorded } from '../../domain/tracking/events.ts';
import type { ZoneMap } from '../../domain/tracking/zones.ts';
import { trackDistanceMeters } from '../../domain/tracking/track.ts';
import type { Tariff } from '../../domain/fare.ts';
import type { MatchPolicy } from '../../domain/matching/policy.ts';
import type { Claims } from '../../domain/ports/claims.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { EventLog } from '../../domain/ports/event-log.ts';
import type { PaymentGateway } from '../../domain/ports/payment.ts';
import type { RideReadModel } from '../../domain/ports/read-model.ts';
import type { Fleet } from '../../projections/fleet/index.ts';
import { makeRideProjector } from '../../projections/rides/projector.ts';
import type { Logger } from '../../domain/ports/logger.ts';
import type { Metrics } from './metrics.ts';
import { each, makeConsumerGuards } from './consumer-guards.ts';
import { makeDispatchStats } from './dispatch-stats.ts';
import { fleetStatsMessage } from './fleet-stats.ts';
import { makeDriverService } from './drivers.ts';
import { makeLiveHub } from './live/hub.ts';
import { makeLocationIngestion } from './locations.ts';
import { makeMatcher, type DispatchOptions } from './matcher.ts';
import { makeNearby } from './nearby.ts';
import { makeRideReactions } from './reactions.ts';
import { makeReconciler, type ReconcilerOptions } from './reconciler.ts';
import { makeRideService } from './rides.ts';
import { makeTracker } from './tracker.ts';
import { makePartitionedGps, type GpsPartitioning } from './partition/index.ts';

export interface RidecastOptions {
  /** Names this instance's own consumer groups (live push, local projections). */
  readonly instanceId: string;
  /** The read model is this process's own (memory): project it here rather than in a shared group. */
  readonly localReadModel: boolean;
  readonly matchTimeoutMs: number;
  readonly retryMs: number;
  readonly maxBufferedBytes: number;
  readonly trackingRules?: Partial<TrackingRules>;
  readonly arrivalRules?: Partial<ArrivalRules>;
  readonly eta?: EtaEstimator;
  readonly serviceArea?: (p: { lat: number; lng: number }) => boolean;
  /** Named zones: drivers crossing their borders emit ZoneEntered / ZoneExited. */
  readonly zones?: ZoneMap;
  readonly positions?: DriverPositions;
  /** The reconciler: how often it runs, and after how long without a location a driver counts as lost. */
  readonly reconcile?: ReconcilerOptions;
  /** The dispatch policy (MATCHING, BATCH_WINDOW_MS, fairness); `nearest` with default fairness when absent. */
  readonly dispatch?: Omit<DispatchOptions, 'eta'>;
  /** Points per second per driver, and the burst allowed (see makeLocationIngestion). */
  readonly locationPointsPerSecond?: number;
  readonly locationPointsBurst?: number;
  /** GPS work partitioned by shard over the instances (a shared Redis); absent: every instance reads every point. */
  readonly partitioned?: GpsPartitioning;
}

/**
 * What the composition root hands the application: the ports made real. Each service below is given
 * only the part of it that it uses.
 */
export interface RidecastDeps {
  readonly log: EventLog;
  readonly claims: Claims;
  readonly readModel: RideReadModel;
  readonly payments: PaymentGateway;
  /** This instance's in-process fleet index (matching, live picture). */
  readonly fleet: Fleet;
  readonly metrics: Metrics;
  readonly tariff: Tariff;
  readonly matchPolicy: MatchPolicy;
  readonly clock: Clock;
  readonly newId: (prefix: string) => string;
  readonly logger: Logger;
}

/** The application: services plus the consumers that keep projections, matching and push moving. */
export function makeRidecast(ctx: RidecastDeps, options: RidecastOptions) {
  const { log, claims, readModel, payments, fleet, metrics, tariff, matchPolicy, clock, newId, logger } = ctx;
  const now = () => clock.now();
  const eta = options.eta ?? straightLineEta();
  const gps = options.partitioned && makePartitionedGps({ fleet, metrics, logger }, options.partitioned, options.instanceId, { localLatest: (id) => tracker.latestLocation(id), hub: () => hub });
  const drivers = makeDriverService({ log, clock, metrics });
  const rides = makeRideService({ log, claims, readModel, clock, newId, metrics, tariff }, {
    serviceArea: options.serviceArea,
    // The same limits as screening, so the fare never counts a track screening would have refused.
    tripDistance: (points, maxDurationMs) => trackDistanceMeters(points, { ...options.trackingRules, maxDurationMs }),
  });
  const locations = makeLocationIngestion({ log, clock, metrics }, {
    rules: options.trackingRules,
    zones: options.zones,
    pointsPerSecond: options.locationPointsPerSecond,
    pointsBurst: options.locationPointsBurst,
    shared: gps ? gps.screening : undefined,
    // The assignment lands on the driver's stream a moment after the ride's acceptance: ask both.
    rideOf: (driverId) => ctx.fleet.get(driverId)?.rideId ?? tracker.rideOfDriver(driverId),
  });
  const hub = makeLiveHub({
    clock,
    metrics,
    logger,
    maxBufferedBytes: options.maxBufferedBytes,
    ride: (rideId) => rides.current(rideId),
    rideHistory: (rideId) => rides.history(rideId),
    rideTrack: (rideId) => readModel.track(rideId),
    latestLocation: (rideId) => tracker.latestLocation(rideId),
    offeredRideOf: (driverId) => fleet.get(driverId)?.offeredRideId ?? null,
  });
  const tracker = makeTracker({ fleet, metrics, logger, clock }, gps ? gps.ownerHub(hub) : hub, {
    eta,
    arrival: options.arrivalRules ?? {},
    markArrived: (rideId) => rides.arrive(systemActor, rideId, true),
  });
  const matcher = makeMatcher({ log, claims, fleet, matchPolicy, clock, newId, logger, metrics }, drivers, {
    matchTimeoutMs: options.matchTimeoutMs,
    retryMs: options.retryMs,
    etaSeconds: (from, to) => eta.estimateSeconds(from, to, { speedMps: null }),
    dispatch: { matching: 'nearest', batchWindowMs: 2_000, fairness: defaultFairnessRules, ...options.dispatch, eta },
  });
  const react = makeRideReactions({ payments, clock }, drivers, rides);
  const reconciler = makeReconciler({ fleet, clock, metrics, logger }, { drivers, rides, tracker }, options.reconcile ?? { intervalMs: 30_000, driverLostMs: 300_000 });
  const projector = makeRideProjector(readModel, () => metrics.staleProjectionEvents.inc({ projection: 'rides' }), rides.history);
  const subscriptions: Subscription[] = [];
  let sweeper: NodeJS.Timeout | undefined;
  let statsTimer: NodeJS.Timeout | undefined;
  let ridesCompleted = 0;
  const dispatchStats = makeDispatchStats();

  /** What the operators' status panel shows (fleet-stats.ts), since `sinceMs`. */
  const fleetStats = (sinceMs: number, locationsBefore: number) =>
    fleetStatsMessage(fleet, { seconds: (now() - sinceMs) / 1000, activeRides: tracker.activeRides().size, ridesCompleted, locations: tracker.locationsSeen() - locationsBefore, dispatch: dispatchStats.snapshot() });

  const { guarded, batchesOf } = makeConsumerGuards({ metrics: ctx.metrics, logger: ctx.logger, clock });

  /** This instance's own groups (live push, local projections): reset at start, removed at a graceful stop. */
  const localGroup = `local-${options.instanceId}`;
  const isLocal = (group: string) => group === localGroup;

  async function consume<S extends StreamName>(stream: S, group: string, handler: (e: Recorded<EventsOf<S>>) => unknown) {
    subscriptions.push(
      await ctx.log.subscribe(stream, { group, consumer: options.instanceId, from: 'start', ephemeral: isLocal(group), handler: guarded(group, handler) }),
    );
  }

  /**
   * A hot consumer: gets what one read returned and folds it at once (one ack per batch). A failure
   * at event i reports i handled (batchFailure), so only the rest is redelivered.
   */
  async function consumeBatches<S extends StreamName>(stream: S, group: string, handler: (events: readonly Recorded<EventsOf<S>>[]) => Promise<void>) {
    subscriptions.push(await ctx.log.subscribe(stream, { group, consumer: options.instanceId, from: 'start', ephemeral: isLocal(group), batchHandler: batchesOf(group, handler) }));
  }

  const points = (events: readonly Recorded[]) => events.filter((e): e is Recorded<LocationRecorded> => e.type === 'LocationRecorded');

  return {
    rides,
    drivers,
    locations,
    /** The sockets' hub: with partitioned GPS, a watch also joins the ride's channel. */
    hub: gps ? gps.socketHub(hub) : hub,
    tracker,
    matcher,
    reconciler,
    readModel: ctx.readModel,
    fleet: ctx.fleet,
    /** `GET /v1/drivers/nearby`, the same on every transport (nearby.ts). */
    nearby: makeNearby({ fleet: ctx.fleet, positions: options.positions, freshnessMs: ctx.matchPolicy.freshnessMs, clock }),

    async start(): Promise<void> {
      const local = localGroup;
      const { positions } = options;
      const onPoints = async (events: readonly Recorded<EventsOf<'driver-locations'>>[]) => {
        // Partitioned, the shard's owner feeds the GEO projection from its own read (no `geo` group
        // reading every point again); its round trip overlaps the tracker's work.
        const geo = gps && positions ? positions.onLocations(events) : undefined;
        const batch = points(events);
        if (options.localReadModel) await projector.onLocations(batch);
        if (!gps) for (const e of batch) locations.observe(e.data);
        await tracker.onLocations(batch);
        await geo;
      };
      // Two phases, each subscribing side by side (a Kafka group join waits out the broker's initial
      // rebalance delay, 3 s on the mock cluster: one after another, start took 5 of them): first this
      // instance's own views (fleet index, tracker, GPS), then the shared groups that act on them.
      await Promise.all([
        consumeBatches('drivers', local, async (events) => each(events, (e) => void ctx.fleet.applyDriverEvent(e))),
        consume('rides', local, async (e) => {
          if (options.localReadModel) await projector.onRideEvent(e);
          if (e.type === 'TripCompleted') {
            ridesCompleted++;
            ctx.metrics.ridesCompleted.inc();
          }
          tracker.onRideEvent(e);
          dispatchStats.onRideEvent(e);
          // Fairness: a driver who declines or lets offers lapse is offered less for a while.
          if (e.type === 'OfferDeclined' || e.type === 'OfferExpired') {
            const { driverId, at } = e.data;
            ctx.fleet.noteMissedOffer(driverId, at);
          }
        }),
        // Partitioned: only the shards this instance owns (group `gps`); else every point (its own group).
        gps ? gps.start(batchesOf('gps', onPoints) as (events: readonly Recorded[]) => Promise<void>) : consumeBatches('driver-locations', local, onPoints),
      ]);
      await Promise.all([
        ...(options.localReadModel ? [] : [
          consume('rides', 'read-model', (e) => projector.onRideEvent(e)),
          consumeBatches('driver-locations', 'read-model', (events) => projector.onLocations(points(events))),
        ]),
        ...(positions ? [
          consume('drivers', 'geo', (e) => positions.onDriverEvent(e)),
          ...(gps ? [] : [consumeBatches('driver-locations', 'geo', async (events) => void (await positions.onLocations(events)))]),
        ] : []),
        consume('rides', 'matcher', (e) => matcher.onRideEvent(e)),
        consume('rides', 'reactions', react),
      ]);
      sweeper = setInterval(() => {
        void matcher.sweep(tracker.waitingRides());
        void options.positions?.sweepStale().catch(() => undefined);
      }, options.retryMs * 2);
      sweeper.unref();
      reconciler.start();
      let statsFrom = { at: now(), locations: tracker.locationsSeen() };
      statsTimer = setInterval(() => {
        hub.publishToFleet(fleetStats(statsFrom.at, statsFrom.locations));
        statsFrom = { at: now(), locations: tracker.locationsSeen() };
      }, 2_000);
      statsTimer.unref();
    },

    async stop(): Promise<void> {
      clearInterval(sweeper);
      clearInterval(statsTimer);
      reconciler.stop();
      matcher.stop();
      await gps?.stop();
      await Promise.all(subscriptions.splice(0).map((s) => s.close()));
    },
  };
}

export type Ridecast = ReturnType<typeof makeRidecast>;
