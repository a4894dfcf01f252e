/**
 * Where services and adapters report what operators should see: pino in production, a line writer
 * in the CLIs, silence in tests. The one logger type; an adapter that only warns takes a `Pick` of it.
 */
export interface Logger {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** Silence: tests and tools that do not log. */
export const quietLogger: Logger = { info() {}, warn() {}, error() {} };
