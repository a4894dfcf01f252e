import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import pino from 'pino';
import { ConfigError, environment, loadConfig, type Config } from './config.ts';
import { loadZones } from '../adapters/geo/zones.ts';
import { mapPlugin } from '../adapters/http/map/plugin.ts';
import { makeInfrastructure } from './infrastructure.ts';
import { startFleet } from './simulator/fleet.ts';
import { streetsToGeoJson } from './simulator/streets-geojson.ts';
import { generateStreets } from './simulator/streets.ts';
import { makeService, type Logger, type Service } from './wiring.ts';

/** The server entry: configuration → infrastructure → service → listen, and a graceful stop. */
async function main(): Promise<void> {
  let config: Config;
  try {
    const env = environment();
    // TLS settings name files; the service takes their contents.
    if (env.TLS_CERT) env.TLS_CERT = readSetting('TLS_CERT', env.TLS_CERT);
    if (env.TLS_KEY) env.TLS_KEY = readSetting('TLS_KEY', env.TLS_KEY);
    config = loadConfig(env);
    if (config.tlsCert && config.tlsKey) checkTls(config.tlsCert, config.tlsKey);
  } catch (err) {
    console.error(`ridecast: configuration error: ${err instanceof ConfigError ? err.message : (err as Error).message}`);
    process.exit(1);
  }
  const logger = pino({ level: config.logLevel });

  // Graceful stop: sockets get 1001 (going away), requests already in flight finish, consumers
  // acknowledge what they handled, connections close; exit 0. Stuck past the deadline: exit 1.
  // Installed before anything starts, so a signal during start-up waits for it and then stops
  // cleanly instead of killing the process half-started.
  let running: { service: Service; stopFleet: () => Promise<void> } | undefined;
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ signal, afterMs: SHUTDOWN_DEADLINE_MS }, 'shutdown took too long; exiting anyway');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    try {
      await started;
      await running?.stopFleet();
      await running?.service.close();
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  let zones;
  try {
    zones = loadZones(config);
  } catch (err) {
    console.error(`ridecast: configuration error: ${(err as Error).message}`);
    process.exit(1);
  }
  // The simulated city: the map draws these streets and the simulator drives on them.
  const streets = generateStreets();
  const infra = await makeInfrastructure(config, logger);
  const service = await makeService(
    config,
    infra,
    {
      serviceArea: config.serviceArea ? (p) => zones.inServiceArea(p) : undefined,
      zones: config.zones ? zones : undefined,
      // A simulated clock running N× faster makes cars look N× faster (and N² × harder turning): screen on the same clock.
      trackingRules:
        config.simulate > 0
          ? { maxSpeedMps: 70 * config.simulateTimeScale, maxAccelerationMps2: 4 * config.simulateTimeScale ** 2 }
          : undefined,
      plugins: [async (app) => void (await app.register(mapPlugin, { streets: streetsToGeoJson(streets), ...(config.mapTileUrl && { tileUrl: config.mapTileUrl }) }))],
    },
    logger,
  );
  const address = await service.app.listen({ port: config.port, host: config.host });
  logger.info({ address, transport: config.transport, readModel: config.readModel }, 'ridecast is listening');

  // (Not when a signal came during start-up: the stop is already waiting.)
  const stopFleet = config.simulate > 0 && !stopping ? startSimulation(config, address, streets, logger) : async () => undefined;
  printBanner(config, address, service.admin.created);

  running = { service, stopFleet };
  markStarted();
}

const SHUTDOWN_DEADLINE_MS = 10_000;

/** A setting that names a file: its contents, or a configuration error naming the setting. */
function readSetting(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${name} must name a readable file, got "${path}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Fails start-up with one line when the certificate or key is not PEM, or they do not belong together. */
function checkTls(cert: string, key: string): void {
  const reason = (err: unknown) => (err as Error).message;
  try {
    new X509Certificate(cert);
  } catch (err) {
    throw new ConfigError(`TLS_CERT must name a PEM certificate: ${reason(err)}`);
  }
  try {
    createPrivateKey(key);
  } catch (err) {
    throw new ConfigError(`TLS_KEY must name a PEM private key without a passphrase: ${reason(err)}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(`TLS_CERT/TLS_KEY do not go together: ${reason(err)}`);
  }
}

/** The demo's city comes alive: the simulator drives through the public API like any client. */
function startSimulation(config: Config, address: string, streets: ReturnType<typeof generateStreets>, logger: Logger) {
  const log = logger.info.bind(logger) as (m: string) => void;
  const fleet = startFleet({
    baseUrl: address,
    drivers: config.simulate,
    ridersPerMinute: config.ridersPerMinute,
    credentials: { username: config.adminUsername, password: config.adminPassword },
    streets,
    logger: { info: log, warn: (m) => logger.warn(m), error: (m) => logger.error(m) },
    progressIntervalMs: 30_000,
    timeScale: config.simulateTimeScale,
    // The demo's clock runs faster (SIMULATE_TIME_SCALE) and its trips are short, so a newcomer sees rides finish in seconds.
    ...(config.demo && { tripMeters: [150, 450] as const, initialRequests: 12 }),
  });
  fleet.ready.catch((err: Error) => logger.error({ err: err.message }, 'the simulator could not start'));
  return () => fleet.stop();
}

/**
 * What a newcomer needs, in demo mode or not: where the service answers, on what transport, and
 * whether the admin account was created now (the configured password applies) or already existed
 * (it keeps its own password: ADMIN_PASSWORD is not applied again).
 */
function printBanner(config: Config, address: string, adminCreated: boolean): void {
  const url = new URL(address);
  const everywhere = config.host === '0.0.0.0' || config.host === '::';
  // On all interfaces, the address to open from this machine is the loopback one.
  const base = everywhere ? `${url.protocol}//127.0.0.1:${url.port}` : address;
  const where = everywhere ? ` (listening on all interfaces, ${config.host})` : '';
  const backend = `TRANSPORT=${config.transport}, READ_MODEL=${config.readModel}${config.transport === 'memory' ? ', everything in this process' : ''}`;
  const password = config.demo && adminCreated ? ` / ${config.adminPassword}` : '';
  const admin = adminCreated
    ? `admin account "${config.adminUsername}" created${password ? '' : ' with ADMIN_PASSWORD'}`
    : `admin account "${config.adminUsername}" already existed: its password is unchanged (ADMIN_PASSWORD was not applied)`;
  console.log(
    [
      '',
      `  Ridecast ${config.demo ? 'demo ' : ''}is running at ${base}${where}  (${backend})`,
      `  Open ${base}/ and log in as  ${config.adminUsername}${password}   (${admin})`,
      `  API reference: ${base}/docs   OpenAPI: ${base}/openapi.json   WebSocket protocol: ${base}/asyncapi.json`,
      ...(config.simulate > 0 ? [`  ${config.simulate} simulated drivers are on the road (SIMULATE=0 turns them off)`] : []),
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  // Anything that stops start-up after configuration (a port in use, a store that does not answer): one line, exit 1.
  if (err instanceof ConfigError) console.error(`ridecast: configuration error: ${err.message}`);
  else console.error(`ridecast: start-up failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
