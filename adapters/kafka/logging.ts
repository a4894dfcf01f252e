import { logLevel, type logCreator } from 'kafkajs';
import type { Logger as PortLogger } from '../../domain/ports/logger.ts';

export type Logger = Pick<PortLogger, 'warn' | 'error'>;

export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info';

export const kafkaLogLevel: Record<KafkaLogLevel, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
};

// A rebalance is how groups share work, yet kafkajs reports its heartbeats and rejoins as errors.
const REBALANCE = /rebalanc/i;

/** Routes kafkajs' own log lines to our logger, minus the noise of ordinary rebalances. */
export const kafkaLogs =
  (logger: Logger): logCreator =>
  () =>
  ({ namespace, level, log }) => {
    const { message, ...extra } = log;
    if (REBALANCE.test(message) || REBALANCE.test(String(extra.error ?? ''))) return;
    const entry = { kafkajs: namespace, ...extra };
    if (level === logLevel.ERROR) logger.error(entry, message);
    else logger.warn(entry, message);
  };
