import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import { defaultMatchPolicy, type MatchPolicy } from '../domain/matching/policy.ts';
import { STREAMS, type EventLog } from '../domain/ports/event-log.ts';
import type { AttemptCounter } from '../domain/ports/attempts.ts';
import type { Claims } from '../domain/ports/claims.ts';
import type { PaymentGateway } from '../domain/ports/payment.ts';
import type { RideReadModel } from '../domain/ports/read-model.ts';
import type { UserStore } from '../domain/ports/users.ts';
import type { DriverPositions } from '../domain/ports/positions.ts';
import { systemClock, type Clock } from '../domain/ports/clock.ts';
import type { ArrivalRules } from '../domain/tracking/arrival.ts';
import type { TrackingRules } from '../domain/tracking/clean.ts';
import type { ZoneMap } from '../domain/tracking/zones.ts';
import { buildApp, type FrontDoor } from '../adapters/http/app.ts';
import { getInMemoryAttemptCounter } from '../adapters/memory/attempts.ts';
import { getInMemoryClaims } from '../adapters/memory/claims.ts';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { getInMemoryPaymentLedger } from '../adapters/memory/payment-ledger.ts';
import { getInMemoryReadModel } from '../adapters/memory/read-model.ts';
import { getInMemoryUserStore } from '../adapters/memory/users.ts';
import { makeFleet } from '../projections/fleet/index.ts';
import { makeAccounts } from './app/accounts.ts';
import { makeFleetQueries } from './app/fleet-snapshot.ts';
import { quietLogger, type Logger } from '../domain/ports/logger.ts';
import type { GpsPartitioning } from './app/partition/index.ts';
import { makeMetrics, type Metrics } from './app/metrics.ts';
import { makeRideQueries } from './app/ride-queries.ts';
import { makeRidecast, type Ridecast, type RidecastDeps } from './app/ridecast.ts';
import { rideCommands } from './app/rides.ts';
import type { Config } from './config.ts';

/** The ports a deployment provides; anything left out gets its embedded (in-memory) adapter. */
export interface Infrastructure {
  log?: EventLog;
  claims?: Claims;
  users?: UserStore;
  /** Failed-login counters; shared (Redis) so a guesser cannot spread attempts over instances. */
  attempts?: AttemptCounter;
  readModel?: RideReadModel;
  payments?: PaymentGateway;
  /** Shared driver positions (Redis GEO); without it `nearby` answers from this instance's rbush index. */
  positions?: DriverPositions;
  /** GPS work partitioned by shard over the instances (needs a shared Redis); absent: every instance reads every point. */
  partitioned?: GpsPartitioning;
  /** Trip tracks shared by the instances (Redis), for a memory read model under partitioned GPS work. */
  tracks?: Pick<RideReadModel, 'addTrackPoints' | 'addTracks' | 'track'>;
  /** Closes what the infrastructure opened (connections), after the app has stopped. */
  close?: () => Promise<void>;
}

export interface Tuning {
  matchPolicy?: Partial<MatchPolicy>;
  trackingRules?: Partial<TrackingRules>;
  arrivalRules?: Partial<ArrivalRules>;
  retryMs?: number;
  maxBufferedBytes?: number;
  serviceArea?: (p: { lat: number; lng: number }) => boolean;
  zones?: ZoneMap;
  plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
  /** Lifetime of login tokens (default one hour); tests shorten it to see renewal. */
  tokenTtlSeconds?: number;
  /** The service's clock (default the wall clock); `now` is the same as a bare function. */
  clock?: Clock;
  now?: () => number;
}

export type { Logger } from '../domain/ports/logger.ts';

/** Wires one service instance from configuration and infrastructure. Starts consumers; does not listen. */
export async function makeService(config: Config, infra: Infrastructure = {}, tuning: Tuning = {}, logger: Logger = quietLogger) {
  const metrics = makeMetrics();
  const log = infra.log ?? getInMemoryEventLog({ maxLength: { 'driver-locations': config.locationRetention } });
  const now = tuning.now;
  const clock: Clock = tuning.clock ?? (now ? { now: () => now() } : systemClock);
  const ownReadModel = infra.readModel ?? getInMemoryReadModel({ trackRetentionMs: config.trackRetentionMs, clock });
  // Partitioned GPS: a ride's track is written by its driver's shard owner, so it is kept where every instance reads it.
  const readModel = infra.tracks ? { ...ownReadModel, addTrackPoints: infra.tracks.addTrackPoints, addTracks: infra.tracks.addTracks, track: infra.tracks.track } : ownReadModel;
  const payments = infra.payments ?? getInMemoryPaymentLedger();
  // The ports made real; each service takes the part it uses (tests reach in here too).
  const ctx = {
    log,
    claims: infra.claims ?? getInMemoryClaims(),
    readModel,
    users: infra.users ?? getInMemoryUserStore(),
    payments: countedCaptures(payments, metrics),
    fleet: makeFleet({ clock }),
    metrics,
    tariff: config.tariff,
    matchPolicy: { ...defaultMatchPolicy, offerTimeoutMs: config.offerTimeoutMs, ...tuning.matchPolicy },
    clock,
    newId: (prefix: string) => `${prefix}_${randomBytes(9).toString('base64url')}`,
    logger,
  } satisfies RidecastDeps & Record<string, unknown>;
  // Redis and Kafka count what this instance's subscriptions set aside; the in-memory log keeps the
  // dead letters themselves (it is this process), so they are counted from the port's listing.
  const counted = log as EventLog & { deadLetterCount?: () => number };
  new Gauge({
    name: 'ridecast_dead_letters',
    help: 'Events this instance set aside as dead letters (poison or past maxDeliveries) since it started',
    registers: [metrics.registry],
    async collect() {
      if (typeof counted.deadLetterCount === 'function') return void this.set(counted.deadLetterCount());
      let total = 0;
      for (const stream of STREAMS) total += (await log.deadLetters?.(stream))?.length ?? 0;
      this.set(total);
    },
  });
  const attempts = infra.attempts ?? getInMemoryAttemptCounter();
  const accounts = makeAccounts(ctx.users, ctx.newId, {
    attempts,
    limits: config.loginLimits,
    admin: { username: config.adminUsername, password: config.adminPassword },
  });
  const ridecast = makeRidecast(ctx, {
    instanceId: config.instanceId,
    localReadModel: !infra.readModel || config.readModel === 'memory',
    matchTimeoutMs: config.matchTimeoutMs,
    retryMs: tuning.retryMs ?? 1_000,
    maxBufferedBytes: tuning.maxBufferedBytes ?? 1024 * 1024,
    trackingRules: tuning.trackingRules,
    arrivalRules: tuning.arrivalRules,
    serviceArea: tuning.serviceArea,
    zones: tuning.zones,
    positions: infra.positions,
    reconcile: { intervalMs: config.reconcileIntervalMs, driverLostMs: config.driverLostMs },
    dispatch: config.dispatch,
    locationPointsPerSecond: config.locationPointsPerSecond,
    locationPointsBurst: config.locationPointsBurst,
    partitioned: infra.partitioned,
  });
  await ridecast.start();
  await accounts.foldLegacyNames();
  const admin = await accounts.ensure(config.adminUsername, config.adminPassword, 'admin');

  const services = frontDoor(ridecast, accounts, ctx);
  const app = await buildApp({
    services,
    clock,
    registry: metrics.registry,
    jwtSecret: config.jwtSecret,
    readiness: {
      log: () => log.ping(),
      readModel: async () => true,
      // Answering is not enough: a server out of memory or read-only still answers PING. A write proves it.
      writes: async () => (await attempts.hit(`readyz:${config.instanceId}`, 60_000), true),
    },
    logger: 'child' in logger ? (logger as FastifyBaseLogger) : undefined,
    timeouts: { requestMs: config.requestTimeoutMs, headersMs: config.headersTimeoutMs },
    maxConnections: config.maxConnections,
    rateLimitPerMinute: config.rateLimitPerMinute,
    maxSocketsPerUser: config.maxSocketsPerUser,
    socketMessagesPerSecond: config.socketMessagesPerSecond,
    bodyLimitBytes: config.bodyLimitBytes,
    plugins: tuning.plugins,
    tokenTtlSeconds: tuning.tokenTtlSeconds,
    fastify: config.tlsCert && config.tlsKey
      ? ({ https: { cert: config.tlsCert, key: config.tlsKey, headersTimeout: Math.min(config.headersTimeoutMs, config.requestTimeoutMs), requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: 1_000 } } as never)
      : undefined,
  });

  return {
    app,
    ctx,
    ridecast,
    accounts,
    /** The inbound ports the HTTP and socket adapters drive. */
    services,
    clock,
    payments,
    /** The configured admin account, and whether this start created it. */
    admin,
    /** Graceful stop: no new requests, consumers finish and acknowledge, sockets told we are going. */
    async close() {
      ridecast.hub.closeAll();
      await app.close();
      await ridecast.stop();
      await infra.close?.();
      await log.close();
    },
  };
}

export type Service = Awaited<ReturnType<typeof makeService>>;

/** The inbound ports the adapters drive, each implemented by an application service. */
function frontDoor(ridecast: Ridecast, accounts: FrontDoor['accounts'], deps: { readModel: RideReadModel; clock: Clock }): FrontDoor {
  const { rides, drivers, locations, tracker, hub } = ridecast;
  return {
    rides: rideCommands(rides),
    rideQueries: makeRideQueries({ view: rides.view, readModel: deps.readModel, latestLocation: tracker.latestLocation }),
    drivers: { setAvailability: drivers.setAvailability, ingestLocations: locations.ingest },
    driverQueries: { nearby: ridecast.nearby },
    fleet: makeFleetQueries({ fleet: ridecast.fleet, activeRides: tracker.activeRides }),
    live: hub,
    accounts,
  };
}

/**
 * Counts capture requests made to the gateway (`ridecast_payment_capture_requests_total{outcome}`):
 * summed over instances it shows whether the work-shared reactions asked once per ride.
 */
function countedCaptures(gateway: PaymentGateway, metrics: Metrics): PaymentGateway {
  const requests = new Counter({
    name: 'ridecast_payment_capture_requests_total',
    help: 'Payment capture requests made to the gateway, by outcome',
    labelNames: ['outcome'],
    registers: [metrics.registry],
  });
  return {
    async capture(request) {
      try {
        const outcome = await gateway.capture(request);
        requests.inc({ outcome: outcome.captured ? 'captured' : 'failed' });
        return outcome;
      } catch (err) {
        requests.inc({ outcome: 'error' });
        throw err;
      }
    },
  };
}
