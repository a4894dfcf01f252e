import { STREAMS, type DeadLetter, type EventLog, type StreamName } from '../domain/ports/event-log.ts';
import { ConfigError, environment, loadConfig, type Config } from './config.ts';
import { makeInfrastructure } from './infrastructure.ts';
import type { Logger } from './wiring.ts';

const HELP = `Usage: npm run dead-letters -- list [stream] [--json]
       npm run dead-letters -- replay [id]

Dead letters are events a consumer group gave up on because they can never succeed as they are
(undecodable, or a rule refuses what they ask). Events that failed because a backend refused a
write are never dead-lettered: they are retried until the backend recovers.

Commands:
  list [stream]   the dead letters of every stream (or of rides | drivers | driver-locations),
                  oldest first: id, group, event, deliveries, when, why. --json: one JSON object a line
  replay [id]     hands the dead letter back to the group that gave up on it (fix the cause first)
                  and removes it from the dead letters; without an id, every dead letter

Settings (environment, as for the server):
  TRANSPORT       redis (dead letters on Kafka are kept in <topic>.dead, read them with Kafka's tools;
                  memory keeps them inside the server process)
  REDIS_URL       the Redis the service uses
  STREAM_PREFIX   key prefix (default ridecast:); dead letters are in <prefix>{<stream>}:dead`;

function fail(message: string, code = 2): never {
  process.stderr.write(`dead-letters: ${message}\n`);
  process.exit(code);
}

/** The tool needs no JWT or admin password; let the server's settings check pass without them. */
function configFrom(env: NodeJS.ProcessEnv): Config {
  return loadConfig({ JWT_SECRET: 'dead-letters-cli-does-not-sign-tokens', ADMIN_PASSWORD: 'dead-letters-cli-does-not-log-in', ...env, SIMULATE: '0' });
}

const line = (d: DeadLetter) =>
  [
    d.id,
    `group=${d.group}`,
    d.event ? `${d.event.type} ${d.event.metadata.key} ${d.event.metadata.eventId}` : '(undecodable)',
    `deliveries=${d.deliveries}`,
    new Date(d.deadAtMs).toISOString(),
    JSON.stringify(d.error),
  ].join('  ');

async function run(log: Required<Pick<EventLog, 'deadLetters' | 'replayDeadLetter'>>, command: string, args: string[]): Promise<void> {
  const json = args.includes('--json');
  const [arg, ...extra] = args.filter((a) => a !== '--json');
  if (extra.length > 0) fail(`unexpected argument "${extra[0]}"`);
  if (command === 'list') {
    if (arg && !STREAMS.includes(arg as StreamName)) fail(`unknown stream "${arg}"; one of: ${STREAMS.join(', ')}`);
    let n = 0;
    for (const stream of arg ? [arg as StreamName] : STREAMS) {
      for (const d of await log.deadLetters(stream)) {
        n++;
        console.log(json ? JSON.stringify(d) : line(d));
      }
    }
    if (!json) console.log(`${n} dead letter${n === 1 ? '' : 's'}`);
    return;
  }
  const ids = arg ? [arg] : (await Promise.all(STREAMS.map((s) => log.deadLetters(s)))).flat().map((d) => d.id);
  let replayed = 0;
  for (const id of ids) {
    if (await log.replayDeadLetter(id)) {
      replayed++;
      console.log(`replayed ${id}`);
    } else if (arg) fail(`no dead letter ${id} (see: npm run dead-letters -- list)`, 1);
  }
  console.log(`${replayed} dead letter${replayed === 1 ? '' : 's'} replayed`);
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('-h') || argv.includes('--help')) return void console.log(HELP);
  const [command, ...args] = argv.filter((a) => a !== '--');
  if (command !== 'list' && command !== 'replay') fail(`${command ? `unknown command "${command}"` : 'which command?'}: list or replay\n\n${HELP}`);
  let config: Config;
  try {
    config = configFrom(environment());
  } catch (err) {
    fail(`configuration error: ${err instanceof ConfigError ? err.message : (err as Error).message}`);
  }
  if (config.transport === 'memory') fail('TRANSPORT=memory keeps dead letters inside the server process: there is nothing to read from here');
  const logger: Logger = {
    info: () => undefined,
    warn: (o, m) => process.stderr.write(`dead-letters: ${m ?? ''} ${typeof o === 'string' ? o : JSON.stringify(o)}\n`),
    error: (o, m) => process.stderr.write(`dead-letters: ${m ?? ''} ${typeof o === 'string' ? o : JSON.stringify(o)}\n`),
  };
  const infra = await makeInfrastructure(config, logger);
  const log = infra.log!;
  try {
    if (!log.deadLetters || !log.replayDeadLetter) fail(`TRANSPORT=${config.transport} keeps dead letters where this tool cannot list them (Kafka: the <topic>.dead topics)`);
    await run(log as Required<Pick<EventLog, 'deadLetters' | 'replayDeadLetter'>>, command, args);
  } finally {
    await infra.close?.().catch(() => undefined);
    await log.close().catch(() => undefined);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => fail(`failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`, 1),
);
