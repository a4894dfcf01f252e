/** What the application logs through (pino in production; the quiet one in tests). */
export interface Logger {
  info(o: object | string, m?: string): void;
  warn(o: object | string, m?: string): void;
  error(o: object | string, m?: string): void;
}

export const quietLogger: Logger = { info() {}, warn() {}, error() {} };
