import { getMongoReadModel } from '../adapters/mongo/read-model.ts';
import type { StreamName } from '../domain/ports/event-log.ts';
import { makeRedisGeoProjection } from '../projections/geo/redis-geo.ts';
import { rebuildDriverPositions, rebuildRideReadModel, type RebuildProgress } from '../projections/rebuild.ts';
import { ConfigError, environment, loadConfig, type Config } from './config.ts';
import { makeInfrastructure, redisEndpoint } from './infrastructure.ts';
import type { Logger } from './wiring.ts';

const HELP = `Usage: npm run rebuild -- <projection>

Rebuilds a projection from the event log: clears it, replays the log from its oldest retained
event, prints progress and a final count.

Projections:
  rides   the rides read model (ride documents and trip tracks) from rides + driver-locations;
          needs READ_MODEL=mongo and MONGO_URL (the memory read model lives inside the server)
  geo     the Redis GEO map of available drivers from drivers + driver-locations; needs REDIS_URL

Settings (environment, as for the server):
  TRANSPORT       redis | kafka: where the log is (memory has no log outside the server process)
  REDIS_URL       Redis for TRANSPORT=redis and for the geo projection
  REDIS_CLUSTER_NODES  host:port,… of a Redis Cluster, instead of REDIS_URL
  KAFKA_BROKERS   for TRANSPORT=kafka
  STREAM_PREFIX   key/topic prefix (default ridecast:); the geo key is <prefix>{geo}:drivers
  READ_MODEL      mongo, for the rides projection
  MONGO_URL       MongoDB for READ_MODEL=mongo
  GEO_STALE_MS    drivers whose last fix is older are left off the geo map (default 60000)

Run it while the projection's consumers are stopped: a rebuild starts from an empty projection.`;

const PROJECTIONS = ['rides', 'geo'] as const;
type Projection = (typeof PROJECTIONS)[number];

function fail(message: string, code = 2): never {
  process.stderr.write(`rebuild: ${message}\n`);
  process.exit(code);
}

const fmt = (n: number) => n.toLocaleString('en-US');
const where = (positions: Partial<Record<StreamName, string>>) =>
  Object.entries(positions)
    .map(([stream, position]) => `${stream}@${position}`)
    .join(' ');

/** The rebuild needs no JWT or admin password; let the server's settings check pass without them. */
function configFrom(env: NodeJS.ProcessEnv): Config {
  return loadConfig({ JWT_SECRET: 'rebuild-cli-does-not-sign-tokens', ADMIN_PASSWORD: 'rebuild-cli-does-not-log-in', ...env, SIMULATE: '0' });
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('-h') || argv.includes('--help')) {
    console.log(HELP);
    return;
  }
  const [projection, ...extra] = argv.filter((a) => a !== '--');
  if (!projection) fail(`which projection? one of: ${PROJECTIONS.join(', ')}\n\n${HELP}`);
  if (!PROJECTIONS.includes(projection as Projection)) fail(`unknown projection "${projection}"; one of: ${PROJECTIONS.join(', ')}`);
  if (extra.length > 0) fail(`unexpected argument "${extra[0]}"`);

  let config: Config;
  try {
    config = configFrom(environment());
  } catch (err) {
    fail(`configuration error: ${err instanceof ConfigError ? err.message : (err as Error).message}`);
  }
  if (config.transport === 'memory') {
    fail('TRANSPORT=memory keeps the log inside the server process: there is nothing to rebuild from here (set TRANSPORT=redis or kafka)');
  }

  const staleAfterMs = config.geoStaleMs;
  if (projection === 'rides' && config.readModel !== 'mongo') {
    fail('READ_MODEL=memory lives inside the server process and is rebuilt when it starts; set READ_MODEL=mongo and MONGO_URL');
  }
  const redis = redisEndpoint(config);
  if (projection === 'geo' && !redis) fail('the geo projection lives in Redis: set REDIS_URL or REDIS_CLUSTER_NODES');

  const logger: Logger = {
    info: () => undefined,
    warn: (o, m) => process.stderr.write(`rebuild: ${m ?? ''} ${typeof o === 'string' ? o : JSON.stringify(o, errorFields)}\n`),
    error: (o, m) => process.stderr.write(`rebuild: ${m ?? ''} ${typeof o === 'string' ? o : JSON.stringify(o, errorFields)}\n`),
  };
  const infra = await makeInfrastructure(config, logger);
  const log = infra.log!;
  const progress = (p: RebuildProgress) => {
    if (p.done) return;
    console.log(`rebuild ${projection}: ${fmt(p.events)} events, ${fmt(p.eventsPerSecond)}/s, ${(p.elapsedMs / 1000).toFixed(1)} s  ${where(p.positions)}`);
  };
  console.log(`rebuild ${projection}: clearing the projection and replaying the log (TRANSPORT=${config.transport})`);

  const closers: (() => Promise<void>)[] = [];
  try {
    if (projection === 'rides') {
      const readModel = infra.readModel ?? getMongoReadModel({ url: config.mongoUrl! });
      if (!infra.readModel) closers.push(() => readModel.close());
      const r = await rebuildRideReadModel(log, readModel, { onProgress: progress });
      console.log(
        `rebuild rides: done, ${fmt(r.events)} events (${fmt(r.rideEvents)} ride events, ${fmt(r.locations)} locations) in ${(r.elapsedMs / 1000).toFixed(1)} s` +
          `; ${fmt((await readModel.active()).length)} rides active  ${where(r.positions)}`,
      );
    } else {
      const geo = makeRedisGeoProjection({ ...redis!, key: `${config.streamPrefix}{geo}:drivers`, staleAfterMs });
      closers.push(() => geo.close());
      const r = await rebuildDriverPositions(log, geo, { onProgress: progress });
      console.log(
        `rebuild geo: done, ${fmt(r.events)} events (${fmt(r.driverEvents)} driver events, ${fmt(r.locations)} locations) in ${(r.elapsedMs / 1000).toFixed(1)} s` +
          `; ${fmt(await geo.count())} drivers available on ${geo.keys.geo}  ${where(r.positions)}`,
      );
    }
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await infra.close?.().catch(() => undefined);
    await log.close().catch(() => undefined);
  }
}

function errorFields(_key: string, value: unknown) {
  return value instanceof Error ? { message: value.message } : value;
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => fail(`failed: ${err instanceof Error ? (environment().DEBUG ? err.stack : `${err.name}: ${err.message}`) : String(err)}`, 1),
);
