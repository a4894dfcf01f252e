import { readFileSync } from 'node:fs';
import pino from 'pino';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { makeInfrastructure } from './infrastructure.ts';
import { makeService } from './wiring.ts';

/** The server entry: configuration → infrastructure → service → listen, and a graceful stop. */
async function main(): Promise<void> {
  let config: Config;
  try {
    const env = { ...process.env };
    // TLS settings name files; the service takes their contents.
    if (env.TLS_CERT) env.TLS_CERT = readFileSync(env.TLS_CERT, 'utf8');
    if (env.TLS_KEY) env.TLS_KEY = readFileSync(env.TLS_KEY, 'utf8');
    config = loadConfig(env);
  } catch (err) {
    console.error(`ridecast: configuration error: ${err instanceof ConfigError ? err.message : (err as Error).message}`);
    process.exit(1);
  }
  const logger = pino({ level: config.logLevel });
  const infra = await makeInfrastructure(config, logger);
  const service = await makeService(config, infra, {}, logger);
  const address = await service.app.listen({ port: config.port, host: config.host });
  logger.info({ address, transport: config.transport, readModel: config.readModel }, 'ridecast is listening');

  const stopFleet = async () => undefined;
  if (config.demo) printDemo(config, address);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => process.exit(1), 10_000);
    deadline.unref();
    await stopFleet();
    await service.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

function printDemo(config: Config, address: string): void {
  console.log(
    [
      '',
      `  Ridecast demo is running at ${address}  (TRANSPORT=memory, everything in this process)`,
      `  Open ${address}/ and log in as  ${config.adminUsername} / ${config.adminPassword}`,
      config.simulate > 0 ? `  ${config.simulate} simulated drivers are on the road (SIMULATE=0 turns them off)` : '',
      '',
    ].join('\n'),
  );
}

void main();
