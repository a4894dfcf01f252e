import { randomBytes } from 'node:crypto';
import { ApiError, createFleetHttp, createUser, openSession, sessionOfToken, type Role, type UserSession } from './api-client.ts';
import type { Http } from '../client/index.ts';
import { createDriverAgent, type DriverAgent, type DriverContext } from './driver-agent.ts';
import { createRandom } from './random.ts';
import { createRiderPool } from './rider-pool.ts';
import { randomStreetPoint } from './routing.ts';
import { checkFleetOptions, type Credentials, type Fleet, type FleetLogger, type FleetOptions } from './fleet-options.ts';
import { createStatsBook, formatStats } from './stats.ts';
import { generateStreets } from './streets.ts';

export type { Credentials, Fleet, FleetLogger, FleetOptions };
export type { FleetStats } from './stats.ts';

const silent: FleetLogger = { info: () => {}, warn: () => {}, error: () => {} };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Starts a simulated fleet against a running server: drivers that go online, take offers,
 * drive the streets and report GPS; riders who request and sometimes cancel. It runs in the
 * background; failed calls are counted, never thrown.
 */
export function startFleet(options: FleetOptions): Fleet {
  checkFleetOptions(options);
  const log = options.logger ?? silent;
  const seed = options.seed ?? 42;
  const rng = createRandom(seed);
  const graph = options.streets ?? generateStreets(options.city);
  const stats = createStatsBook(Date.now());
  const maxInFlight = options.maxInFlight ?? 256;
  const runId = randomBytes(4).toString('hex');
  const password = randomBytes(12).toString('base64url');
  const drivers: DriverAgent[] = [];
  let inFlight = 0;
  let stopping = false;
  let driversFailed = 0;
  let bugs = 0;

  const raw = createFleetHttp(options.baseUrl, ({ ok, code }) => stats.request(ok, code));
  const api: Http = {
    baseUrl: raw.baseUrl,
    request(method, path, opts) {
      inFlight++;
      return raw.request(method, path, opts).finally(() => inFlight--) as never;
    },
  };

  let admin: UserSession | null = null;
  const adminReady: Promise<void> = options.credentials
    ? openSession(api, options.credentials.username, options.credentials.password).then((s) => void (admin = s))
    : options.adminToken
      ? Promise.resolve().then(() => void (admin = sessionOfToken(api, options.adminToken!)))
      : Promise.resolve();

  /** The n-th account of a role: a given one if there is, else a new user the admin creates. */
  const account = async (role: Role, n: number, given: readonly Credentials[] | undefined): Promise<UserSession> => {
    const existing = given?.[n];
    if (existing) return openSession(api, existing.username, existing.password);
    if (!admin) throw new ApiError(0, 'NO_ADMIN', `no admin access to create a ${role}`);
    const username = `sim${runId}${role[0]}${n - (given?.length ?? 0)}`;
    await createUser(admin, username, password, role).catch((err: unknown) => {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    });
    return openSession(api, username, password);
  };

  const ctx: DriverContext = {
    baseUrl: api.baseUrl,
    graph,
    stats,
    acceptProbability: options.acceptProbability ?? 0.9,
    offlineChancePerMinute: options.offlineChancePerMinute ?? 0.03,
    congested: () => inFlight >= maxInFlight,
    onRideStatus: (rideId, status) => riders.noteStatus(rideId, status),
  };

  let riderCount = 0;
  const riders = createRiderPool({
    graph,
    stats,
    rng: createRandom(seed ^ 0x5eed),
    ridersPerMinute: options.ridersPerMinute,
    cancelProbability: options.cancelProbability ?? 0.05,
    maxRiders: Math.max(10, Math.ceil(options.ridersPerMinute * 15)),
    runId,
    tripMeters: options.tripMeters,
    initialRequests: options.initialRequests,
    newRider: async () => {
      await adminReady;
      if (stopping) return null;
      const n = riderCount++;
      return account('rider', n, options.accounts?.riders).catch((err: unknown) => {
        if (n < 3) log.warn(`fleet: rider ${n} could not start: ${err instanceof Error ? err.message : err}`);
        return null;
      });
    },
  });

  const startDriver = async (i: number) => {
    for (let attempt = 1; !stopping; attempt++) {
      try {
        const session = await account('driver', i, options.accounts?.drivers);
        const agent = createDriverAgent(session, ctx, createRandom(seed * 7919 + i + 1), randomStreetPoint(graph, rng));
        await agent.start();
        if (stopping) return void (await agent.stop());
        drivers.push(agent);
        return;
      } catch (err) {
        // Rate limited: wait as told and try again; it is not the driver's fault.
        if (err instanceof ApiError && err.status === 429) {
          attempt--;
          await sleep(Math.min(60_000, err.retryAfterMs ?? 5_000));
          continue;
        }
        if (attempt >= 3) {
          driversFailed++;
          if (driversFailed <= 3) log.warn(`fleet: driver ${i} could not start: ${err instanceof Error ? err.message : err}`);
          return;
        }
        await sleep(1_000 * attempt);
      }
    }
  };

  const ready = adminReady.then(async () => {
    let next = 0;
    const worker = async () => {
      while (!stopping && next < options.drivers) await startDriver(next++);
    };
    await Promise.all(Array.from({ length: Math.min(options.startupConcurrency ?? 16, options.drivers) }, worker));
    if (!stopping) log.info(`fleet: ${drivers.length}/${options.drivers} drivers started (run ${runId})`);
  });
  ready.catch((err: unknown) => log.error(`fleet: cannot log in as admin: ${err instanceof Error ? err.message : err}`));

  const timeScale = options.timeScale ?? 1;
  let last = Date.now();
  let simulated = last;
  const ticker = setInterval(() => {
    const now = Date.now();
    const seconds = Math.min(5, (now - last) / 1000);
    last = now;
    simulated += seconds * timeScale * 1000;
    // A bug in one agent must not take down the process that hosts the fleet (the demo server).
    const guard = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        stats.request(false, 'SIMULATOR_BUG');
        if (++bugs <= 3) log.error(`fleet: ${what} failed: ${err instanceof Error ? err.stack : err}`);
      }
    };
    for (const d of drivers) guard('driver tick', () => d.tick(simulated, seconds * timeScale));
    guard('rider tick', () => riders.tick(now, seconds));
    stats.sample(now);
    let online = 0;
    let busy = 0;
    for (const d of drivers) if (d.status !== 'offline') (online++, d.status === 'on_trip' && busy++);
    stats.dispatch.sampleDrivers(seconds * 1000, { online, busy, idle: online - busy });
  }, 1_000);
  const progressEvery = options.progressIntervalMs ?? 10_000;
  const progress = progressEvery > 0 ? setInterval(() => log.info(`fleet: ${formatStats(snapshot())}`), progressEvery) : null;

  const snapshot = () => {
    let online = 0;
    let onTrip = 0;
    let sockets = 0;
    for (const d of drivers) {
      if (d.status !== 'offline') online++;
      if (d.status === 'on_trip') onTrip++;
      if (d.connected) sockets++;
    }
    return stats.snapshot({ driversTotal: options.drivers, driversReady: drivers.length, driversOnline: online, driversOnTrip: onTrip, socketsConnected: sockets, riders: riders.size });
  };

  let stopped: Promise<void> | null = null;
  return {
    ready,
    stats: snapshot,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(ticker);
        if (progress) clearInterval(progress);
        // Requests already sent may still create rides: let them land, then cancel what is open,
        // then take the drivers offline. Each step is bounded: a dead server must not hold the exit.
        for (let waited = 0; inFlight > 0 && waited < 3_000; waited += 50) await sleep(50);
        const cancelled = await Promise.race([riders.cancelOpen(), sleep(5_000).then(() => 0)]);
        if (cancelled > 0) log.info(`fleet: cancelled ${cancelled} open ride${cancelled === 1 ? '' : 's'}`);
        await Promise.race([Promise.all(drivers.map((d) => d.stop())), sleep(5_000)]);
        for (let waited = 0; inFlight > 0 && waited < 3_000; waited += 50) await sleep(50);
      })();
      return stopped;
    },
  };
}
