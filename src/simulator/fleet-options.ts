import type { FleetStats } from './stats.ts';
import type { CityConfig, StreetGraph } from './streets.ts';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** Accepts console and pino alike: only the message form is used. */
export interface FleetLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface FleetOptions {
  /** The server's own http(s) URL; the fleet speaks only the public HTTP/WS contract to it. */
  readonly baseUrl: string;
  readonly drivers: number;
  readonly ridersPerMinute: number;
  /** Admin access for creating the fleet's users: a token, or credentials to log in with. */
  readonly adminToken?: string;
  readonly credentials?: Credentials;
  /** Existing accounts to use before creating any. */
  readonly accounts?: { readonly drivers?: readonly Credentials[]; readonly riders?: readonly Credentials[] };
  readonly seed?: number;
  /** The city to drive in; ignored when `streets` is given. */
  readonly city?: Partial<CityConfig>;
  /** A graph already generated (say, the one the map draws), to drive on exactly the same streets. */
  readonly streets?: StreetGraph;
  readonly logger?: FleetLogger;
  /** Share of offers accepted (default 0.9). */
  readonly acceptProbability?: number;
  /** Share of rides the rider cancels before the trip starts (default 0.05). */
  readonly cancelProbability?: number;
  /** Chance per minute that an idle driver goes offline for 1–5 minutes (default 0.03). */
  readonly offlineChancePerMinute?: number;
  /** Progress line every so often through `logger.info` (default 10 000 ms; 0 turns it off). */
  readonly progressIntervalMs?: number;
  /** Location posts are held back while this many requests are in flight (default 256). */
  readonly maxInFlight?: number;
  /** Drivers logging in at once during start-up (default 16). */
  readonly startupConcurrency?: number;
  /**
   * Simulated driving seconds per real second (default 1). Above 1 trips finish sooner, for
   * tests and quick demos, but reported speeds no longer match the distance between fixes.
   */
  readonly timeScale?: number;
  /** Trip length range in metres (default 800 – 4,500): the demo uses short trips so rides finish soon. */
  readonly tripMeters?: readonly [number, number];
  /** Ride requests owed at start, so a fresh demo has rides at once (default 0). */
  readonly initialRequests?: number;
}

export interface Fleet {
  /** Resolves when every driver has started (or given up); rejects when admin access fails. */
  readonly ready: Promise<void>;
  stats(): FleetStats;
  /** Stops ticking, takes drivers offline, closes sockets. Safe to call twice. */
  stop(): Promise<void>;
}

/** Fails fast on options that make no sense, naming the option. */
export function checkFleetOptions(options: FleetOptions): void {
  const count = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a whole number ≥ 0, got ${v}`);
  };
  count('drivers', options.drivers);
  if (!(options.ridersPerMinute >= 0 && Number.isFinite(options.ridersPerMinute))) throw new RangeError(`ridersPerMinute must be ≥ 0, got ${options.ridersPerMinute}`);
  if (options.timeScale !== undefined && !(options.timeScale > 0 && options.timeScale <= 100)) throw new RangeError(`timeScale must be in (0, 100], got ${options.timeScale}`);
  for (const k of ['acceptProbability', 'cancelProbability', 'offlineChancePerMinute'] as const) {
    const v = options[k];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`${k} must be between 0 and 1, got ${v}`);
  }
  try {
    new URL(options.baseUrl);
  } catch {
    throw new RangeError(`baseUrl is not a URL: ${options.baseUrl}`);
  }
}
