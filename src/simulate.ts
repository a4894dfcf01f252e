import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { startFleet, type FleetOptions } from './simulator/fleet.ts';
import { formatKpis } from './simulator/kpis.ts';
import { formatStats } from './simulator/stats.ts';
import { DEFAULT_CITY } from './simulator/streets.ts';
import { loadSimulatorSettings } from './config.ts';

const HELP = `Usage: npm run simulate -- [options]

Drives a simulated fleet against a running Ridecast server through its public API.

  --url <url>                 server base URL (default http://127.0.0.1:3000, or SIMULATE_URL)
  --drivers <n>               simulated drivers (default 50)
  --riders-per-min <n>        ride requests per minute (default 30)
  --admin-user <name>         admin username (default ADMIN_USERNAME, else "admin")
  --admin-password <pw>       admin password (default ADMIN_PASSWORD)
  --admin-token <jwt>         use this admin token instead of logging in
  --seed <n>                  randomness seed for the fleet (default 42)
  --city-seed <n>             street network seed (default ${DEFAULT_CITY.seed}; must match the server's map)
  --center <lat,lng>          city centre (default ${DEFAULT_CITY.center.lat},${DEFAULT_CITY.center.lng})
  --size-km <km>              city box side (default ${DEFAULT_CITY.widthMeters / 1000})
  --accept <p>                share of offers accepted, 0..1 (default 0.9)
  --cancel <p>                share of rides cancelled by riders, 0..1 (default 0.05)
  --time-scale <x>            simulated seconds per real second, 0.1..100 (default 1; above 1 trips end sooner)
  --duration <s>              stop after this many seconds (default: run until Ctrl-C)
  --progress <s>              seconds between progress lines (default 5)
  --kpis <file>               where the dispatch KPIs are written as JSON at the end (default simulate-kpis.json)
  -h, --help                  this text`;

/** Stops with one line naming the bad option, as the rest of the project does with settings. */
function fail(message: string): never {
  process.stderr.write(`simulate: ${message}\n`);
  process.exit(2);
}

function number(name: string, raw: string | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) fail(`--${name} must be a number between ${min} and ${max}, got "${raw}"`);
  return value;
}

function parse(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        url: { type: 'string' },
        drivers: { type: 'string' },
        'riders-per-min': { type: 'string' },
        'admin-user': { type: 'string' },
        'admin-password': { type: 'string' },
        'admin-token': { type: 'string' },
        seed: { type: 'string' },
        'city-seed': { type: 'string' },
        center: { type: 'string' },
        'size-km': { type: 'string' },
        accept: { type: 'string' },
        cancel: { type: 'string' },
        duration: { type: 'string' },
        'time-scale': { type: 'string' },
        kpis: { type: 'string' },
        progress: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (parsed.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const settings = loadSimulatorSettings();
  const url = parsed.url ?? settings.url ?? 'http://127.0.0.1:3000';
  if (!/^https?:\/\//.test(url)) fail(`--url must be an http(s) URL, got "${url}"`);
  let center = DEFAULT_CITY.center;
  if (parsed.center !== undefined) {
    const [lat, lng] = parsed.center.split(',').map(Number);
    if (lat === undefined || lng === undefined || !(Math.abs(lat) <= 85) || !(Math.abs(lng) <= 180)) fail(`--center must be "lat,lng", got "${parsed.center}"`);
    center = { lat, lng };
  }
  const sizeMeters = number('size-km', parsed['size-km'], DEFAULT_CITY.widthMeters / 1000, 0.5, 50) * 1000;
  const adminUser = parsed['admin-user'] || settings.adminUsername || 'admin';
  const adminPassword = parsed['admin-password'] ?? settings.adminPassword ?? undefined;
  const adminToken = parsed['admin-token'];
  if (!adminToken && !adminPassword) fail(`admin access is needed to create users: pass --admin-password (or ADMIN_PASSWORD) for "${adminUser}", or --admin-token`);
  const options: FleetOptions = {
    baseUrl: url,
    drivers: Math.floor(number('drivers', parsed.drivers, 50, 0, 100_000)),
    ridersPerMinute: number('riders-per-min', parsed['riders-per-min'], 30, 0, 100_000),
    ...(adminToken ? { adminToken } : { credentials: { username: adminUser, password: adminPassword! } }),
    seed: Math.floor(number('seed', parsed.seed, 42)),
    city: { center, widthMeters: sizeMeters, heightMeters: sizeMeters, seed: Math.floor(number('city-seed', parsed['city-seed'], DEFAULT_CITY.seed)) },
    acceptProbability: number('accept', parsed.accept, 0.9, 0, 1),
    cancelProbability: number('cancel', parsed.cancel, 0.05, 0, 1),
    progressIntervalMs: number('progress', parsed.progress, 5, 0, 3600) * 1000,
    timeScale: number('time-scale', parsed['time-scale'], 1, 0.1, 100),
    logger: { info: (m) => console.log(m), warn: (m) => console.warn(m), error: (m) => console.error(m) },
  };
  const duration = parsed.duration === undefined ? null : number('duration', parsed.duration, 0, 1);
  return { options, duration, kpisFile: parsed.kpis ?? 'simulate-kpis.json' };
}

async function main() {
  const { options, duration, kpisFile } = parse(process.argv.slice(2));
  const scale = options.timeScale === 1 ? '' : ` at ${options.timeScale}× speed`;
  console.log(`simulate: ${options.drivers} drivers, ${options.ridersPerMinute} rides/min against ${options.baseUrl}${scale}${duration ? ` for ${duration}s` : ''}`);
  const fleet = startFleet(options);
  let exitCode = 0;
  let finishing = false;
  const finish = async (why: string) => {
    if (finishing) return;
    finishing = true;
    console.log(`simulate: stopping (${why})…`);
    await fleet.stop();
    const final = fleet.stats();
    console.log(`simulate: final ${formatStats(final)}`);
    console.log(`simulate: ${formatKpis(final.dispatch)}`);
    try {
      writeFileSync(kpisFile, `${JSON.stringify({ seed: options.seed, drivers: options.drivers, ridersPerMinute: options.ridersPerMinute, url: options.baseUrl, ...final.dispatch }, null, 2)}\n`);
      console.log(`simulate: wrote ${kpisFile}`);
    } catch (err) {
      console.error(`simulate: could not write ${kpisFile}: ${err instanceof Error ? err.message : err}`);
    }
    process.exit(exitCode);
  };
  fleet.ready.catch(() => {
    exitCode = 1;
    void finish('admin login failed');
  });
  process.on('SIGINT', () => {
    // A second Ctrl-C means now.
    if (finishing) process.exit(130);
    void finish('SIGINT');
  });
  process.on('SIGTERM', () => void finish('SIGTERM'));
  if (duration) setTimeout(() => void finish(`${duration}s elapsed`), duration * 1000);
}

await main();
