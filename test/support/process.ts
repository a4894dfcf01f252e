// Real server processes (src/main.ts) for scale-out and fault tests: spawn, wait for /healthz,
// stop (SIGTERM, then SIGKILL), crash (SIGKILL), freeze (SIGSTOP), and their output for diagnostics.
//
// Why `node --import tsx src/main.ts` rather than `npx tsx src/main.ts`: it is the same loader, but
// one process. `npx` is npm → tsx CLI → node, and a signal to the top pid never reaches the server
// (kill -9 of the tsx CLI leaves the real server running as an orphan). Here the child's pid IS the
// server, so `crash()` is a real kill -9 of the instance. Each child is also the leader of its own
// process group (killed as a group), and runs under `setpriv --pdeathsig KILL` where available, so
// it dies with the test worker even if the worker itself is SIGKILLed.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { freePort } from './net.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SETPRIV = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;
const OUTPUT_KEPT = 64 * 1024;

export const TEST_SECRET = 'scale-out-test-secret-long-enough';
export const TEST_ADMIN = { username: 'admin', password: 'admin-password-1' };

export interface ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Resolves when the process has exited, with how. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** The last 64 KiB of stdout + stderr (pino logs at LOG_LEVEL, crash traces). */
  output(): string;
  /** Graceful stop: SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** kill -9: no shutdown hook runs, nothing is acknowledged, sockets are reset by the kernel. */
  crash(): Promise<void>;
  /** SIGSTOP / SIGCONT: the process holds its connections but does nothing. */
  freeze(): void;
  thaw(): void;
}

export interface StartOptions {
  readonly name: string;
  /** Merged over the defaults below (and over nothing of the test runner's own environment but PATH/HOME). */
  readonly env: Record<string, string>;
  /** How long to wait for GET /healthz to answer 200. */
  readonly readyTimeoutMs?: number;
  /** Use this port (a restart on the same address); default a free one. */
  readonly port?: number;
}

const live = new Set<ChildProcess>();
let hooked = false;
function hook(): void {
  if (hooked) return;
  hooked = true;
  // Last resort when a test forgets stopAll(): SIGKILL every group we started.
  process.once('exit', () => {
    for (const c of live) killGroup(c, 'SIGKILL');
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** The environment every test instance gets unless the test says otherwise. */
export function baseEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    DEMO: '0',
    SIMULATE: '0',
    JWT_SECRET: TEST_SECRET,
    ADMIN_USERNAME: TEST_ADMIN.username,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '1000000',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  };
}

/** Starts `src/main.ts` and waits until `/healthz` answers; on failure kills it and throws with its output. */
export async function startServer(opts: StartOptions): Promise<ServerProcess> {
  hook();
  const port = opts.port ?? (await freePort());
  const env = { ...baseEnv(), ...opts.env, PORT: String(port) };
  const args = ['--import', 'tsx', 'src/main.ts'];
  const child = SETPRIV
    ? spawn(SETPRIV, ['--pdeathsig', 'KILL', process.execPath, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    : spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(child);
  let output = '';
  const collect = (b: Buffer) => {
    output += b.toString();
    if (output.length > OUTPUT_KEPT) output = output.slice(-OUTPUT_KEPT);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  const url = `http://127.0.0.1:${port}`;

  async function halt(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    if (!alive()) return;
    killGroup(child, 'SIGCONT'); // a frozen process cannot handle SIGTERM
    killGroup(child, signal);
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  const server: ServerProcess = {
    name: opts.name,
    url,
    port,
    pid: child.pid ?? -1,
    exited,
    alive,
    output: () => output,
    stop: (graceMs = 10_000) => halt('SIGTERM', graceMs),
    async crash() {
      if (!alive()) return;
      killGroup(child, 'SIGKILL');
      await exited;
    },
    freeze: () => killGroup(child, 'SIGSTOP'),
    thaw: () => killGroup(child, 'SIGCONT'),
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 45_000);
  for (;;) {
    if (spawnError) throw new Error(`${opts.name}: spawn failed: ${spawnError.message}`);
    if (!alive()) throw new Error(`${opts.name} exited (${child.exitCode ?? child.signalCode}) before /healthz answered:\n${output}`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.crash();
      throw new Error(`${opts.name} did not answer /healthz within ${opts.readyTimeoutMs ?? 45_000} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stops every server given (those already gone are skipped), in parallel. */
export async function stopAll(servers: readonly (ServerProcess | undefined)[], graceMs = 5_000): Promise<void> {
  await Promise.all(servers.map((s) => s?.stop(graceMs)));
}

/** The tail of each server's output, for a failed test's report. */
export function diagnostics(servers: readonly (ServerProcess | undefined)[], maxChars = 6_000): string {
  return servers
    .filter((s): s is ServerProcess => !!s)
    .map((s) => `----- ${s.name} (pid ${s.pid}, ${s.alive() ? 'running' : 'exited'}) -----\n${s.output().slice(-maxChars) || '(no output)'}`)
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Clients over real sockets (the in-process `client()` of service.ts uses inject).

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
export interface Reply {
  /** HTTP status; 0 when the request failed without an answer (refused, reset, timed out). */
  readonly status: number;
  readonly body: Json;
  readonly error?: string;
}

/** JSON over fetch against one server. Never throws for transport errors: status 0 says it. */
export function http(base: string | (() => string), defaultTimeoutMs = 10_000) {
  const baseOf = () => (typeof base === 'string' ? base : base());
  async function call(method: 'GET' | 'POST' | 'PUT', path: string, token?: string, payload?: unknown, headers: Record<string, string> = {}, timeoutMs = defaultTimeoutMs): Promise<Reply> {
    try {
      const res = await fetch(`${baseOf()}${path}`, {
        method,
        headers: {
          ...(token && { authorization: `Bearer ${token}` }),
          ...(payload !== undefined && { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(payload !== undefined && { body: JSON.stringify(payload) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let body: Json = {};
      try {
        body = text ? (JSON.parse(text) as Json) : {};
      } catch {
        body = { text };
      }
      return { status: res.status, body };
    } catch (err) {
      return { status: 0, body: {}, error: String((err as Error)?.cause ?? (err as Error)?.message ?? err) };
    }
  }
  const api = {
    url: baseOf,
    call,
    get: (path: string, token?: string) => call('GET', path, token),
    post: (path: string, token?: string, payload: unknown = {}, headers?: Record<string, string>) => call('POST', path, token, payload, headers),
    put: (path: string, token?: string, payload?: unknown) => call('PUT', path, token, payload),
    async login(username: string, password: string) {
      const res = await call('POST', '/v1/auth/login', undefined, { username, password });
      if (res.status !== 200) throw new Error(`login ${username} on ${baseOf()}: ${res.status} ${JSON.stringify(res.body)} ${res.error ?? ''}`);
      return res.body as { token: string; userId: string; role: string };
    },
    /** Creates a user with the admin token and logs them in (on this server). */
    async user(adminToken: string, role: 'rider' | 'driver' | 'admin' | 'service', username = `${role}-${Math.random().toString(36).slice(2, 10)}`) {
      const created = await call('POST', '/v1/users', adminToken, { username, password: 'password-123', role });
      if (created.status !== 201) throw new Error(`create ${username} on ${baseOf()}: ${created.status} ${JSON.stringify(created.body)} ${created.error ?? ''}`);
      return api.login(username, 'password-123');
    },
  };
  return api;
}
export type Http = ReturnType<typeof http>;

/** A `/v1/stream` socket that keeps every message it is sent, in arrival order. */
export interface LiveSocket {
  readonly messages: Json[];
  /** Resolves when the socket closes (or fails), with the close code (1006 for a reset). */
  readonly closed: Promise<number>;
  isOpen(): boolean;
  send(message: Json): void;
  /** Resolves with the first message (already received or to come) that `match` accepts. */
  waitFor(match: (m: Json) => boolean, what: string, timeoutMs?: number): Promise<Json>;
  close(): void;
  /** Called for each message as it arrives (after it is stored). */
  onMessage(listener: (m: Json) => void): void;
}

export async function openSocket(base: string, token: string, timeoutMs = 10_000): Promise<LiveSocket> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
  const messages: Json[] = [];
  const listeners: ((m: Json) => void)[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (raw) => {
    let m: Json;
    try {
      m = JSON.parse(raw.toString()) as Json;
    } catch {
      m = { type: 'unparsable', raw: raw.toString() };
    }
    messages.push(m);
    for (const l of listeners) l(m);
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<number>((resolve) => {
    ws.once('close', (code) => {
      for (const w of [...waiters]) w();
      resolve(code);
    });
  });
  ws.on('error', () => undefined); // 'close' follows
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket to ${base} did not open within ${timeoutMs} ms`)), timeoutMs);
    ws.once('open', () => (clearTimeout(timer), resolve()));
    ws.once('unexpected-response', (_req, res) => (clearTimeout(timer), reject(new Error(`socket to ${base}: HTTP ${res.statusCode}`))));
    ws.once('error', (err) => (clearTimeout(timer), reject(err)));
  });
  return {
    messages,
    closed,
    isOpen: () => ws.readyState === WebSocket.OPEN,
    send: (m) => ws.send(JSON.stringify(m)),
    onMessage: (l) => void listeners.push(l),
    close: () => ws.close(),
    waitFor(match, what, waitMs = 15_000) {
      return new Promise<Json>((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < messages.length; seen++) {
            const m = messages[seen]!;
            if (match(m)) return done(() => resolve(m));
          }
          if (ws.readyState === WebSocket.CLOSED) done(() => reject(new Error(`socket closed while waiting for ${what}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${waitMs} ms waiting for ${what}; got ${JSON.stringify(messages.slice(-5))}`))), waitMs);
        const done = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** One Prometheus counter from a server's /metrics, summed over the label sets that contain `labels`. */
export async function metric(base: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Audits of the log: what "never two rides at once" and "once per ride" mean, checked on the events.

interface LoggedEvent {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: { readonly key: string; readonly version: number; readonly eventId: string };
}

export interface Audit {
  readonly rides: number;
  readonly rideEvents: number;
  readonly driverEvents: number;
  /** Per driver, in rides-stream order: an offer or assignment while another offer/ride was open. */
  readonly doubleAssignments: string[];
  /** Drivers stream folded per driver: a hold while not free, an assignment while busy. */
  readonly driverStreamViolations: string[];
  /** Entity versions not exactly 1..n (two writers won the same version). */
  readonly versionViolations: string[];
  /** Events that must happen at most once per ride (TripCompleted, FareCalculated, PaymentCaptured, RideRated, DriverAssigned, DriverFreed). */
  readonly duplicates: string[];
  /** OfferExpired/OfferDeclined without an open offer to that driver just before. */
  readonly orphanOfferEnds: string[];
  readonly counts: Record<string, number>;
}

const ONCE_PER_RIDE = ['RideRequested', 'RideAccepted', 'DriverArrived', 'TripStarted', 'TripCompleted', 'FareCalculated', 'PaymentCaptured', 'RideRated', 'RideCancelled', 'RideUnmatched'];

export function auditLog(rides: readonly LoggedEvent[], drivers: readonly LoggedEvent[]): Audit {
  const doubleAssignments: string[] = [];
  const driverStreamViolations: string[] = [];
  const versionViolations: string[] = [];
  const duplicates: string[] = [];
  const orphanOfferEnds: string[] = [];
  const counts: Record<string, number> = {};

  const versions = new Map<string, number>();
  const checkVersion = (stream: string, e: LoggedEvent) => {
    const id = `${stream}/${e.metadata.key}`;
    const expected = (versions.get(id) ?? 0) + 1;
    if (e.metadata.version !== expected) versionViolations.push(`${id}: ${e.type} has version ${e.metadata.version}, expected ${expected} (${e.metadata.eventId})`);
    versions.set(id, e.metadata.version);
  };

  // Rides stream, in log order: each driver's open offer or ride.
  type Open = { rideId: string; phase: 'offered' | 'assigned' };
  const open = new Map<string, Open>();
  const offeredTo = new Map<string, string>();
  const perRide = new Map<string, Map<string, number>>();
  for (const e of rides) {
    counts[e.type] = (counts[e.type] ?? 0) + 1;
    checkVersion('rides', e);
    const rideId = e.metadata.key;
    const d = e.data as { driverId?: string };
    const mine = perRide.get(rideId) ?? new Map<string, number>();
    perRide.set(rideId, mine);
    mine.set(e.type, (mine.get(e.type) ?? 0) + 1);
    switch (e.type) {
      case 'RideOffered': {
        const now = open.get(d.driverId!);
        if (now) doubleAssignments.push(`${d.driverId} offered ${rideId} while ${now.phase} ${now.rideId} (${e.metadata.eventId})`);
        open.set(d.driverId!, { rideId, phase: 'offered' });
        offeredTo.set(rideId, d.driverId!);
        break;
      }
      case 'OfferExpired':
      case 'OfferDeclined': {
        const now = open.get(d.driverId!);
        if (!now || now.rideId !== rideId || now.phase !== 'offered') orphanOfferEnds.push(`${e.type} ${rideId} for ${d.driverId} without its open offer (${e.metadata.eventId})`);
        else open.delete(d.driverId!);
        offeredTo.delete(rideId);
        break;
      }
      case 'RideAccepted': {
        const now = open.get(d.driverId!);
        if (!now || now.rideId !== rideId) doubleAssignments.push(`${d.driverId} accepted ${rideId} while ${now ? `${now.phase} ${now.rideId}` : 'holding no offer for it'} (${e.metadata.eventId})`);
        open.set(d.driverId!, { rideId, phase: 'assigned' });
        offeredTo.delete(rideId);
        break;
      }
      case 'TripCompleted':
      case 'RideCancelled':
      case 'RideUnmatched': {
        for (const [driverId, o] of open) if (o.rideId === rideId) open.delete(driverId);
        offeredTo.delete(rideId);
        break;
      }
    }
  }
  for (const [rideId, types] of perRide)
    for (const t of ONCE_PER_RIDE) if ((types.get(t) ?? 0) > 1) duplicates.push(`${rideId}: ${t} × ${types.get(t)}`);

  // Drivers stream, folded per driver as the decider would.
  const state = new Map<string, { offered: string | null; ride: string | null; available: boolean }>();
  const perDriverRide = new Map<string, number>();
  for (const e of drivers) {
    counts[e.type] = (counts[e.type] ?? 0) + 1;
    checkVersion('drivers', e);
    const s = state.get(e.metadata.key) ?? { offered: null, ride: null, available: false };
    const d = e.data as { rideId?: string; available?: boolean };
    switch (e.type) {
      case 'DriverAvailabilityChanged':
        s.available = !!d.available;
        break;
      case 'DriverOfferHeld':
        if (s.offered !== null || s.ride !== null || !s.available)
          driverStreamViolations.push(`${e.metadata.key} held for ${d.rideId} while offered=${s.offered} ride=${s.ride} available=${s.available} (${e.metadata.eventId})`);
        s.offered = d.rideId!;
        break;
      case 'DriverOfferReleased':
        if (s.offered === d.rideId) s.offered = null;
        break;
      case 'DriverAssigned':
        if (s.ride !== null) driverStreamViolations.push(`${e.metadata.key} assigned ${d.rideId} while on ${s.ride} (${e.metadata.eventId})`);
        s.offered = null;
        s.ride = d.rideId!;
        break;
      case 'DriverFreed':
        if (s.ride === d.rideId) s.ride = null;
        break;
    }
    state.set(e.metadata.key, s);
    if (e.type === 'DriverAssigned' || e.type === 'DriverFreed') {
      const k = `${e.type} ${e.metadata.key}/${d.rideId}`;
      perDriverRide.set(k, (perDriverRide.get(k) ?? 0) + 1);
    }
  }
  for (const [k, n] of perDriverRide) if (n > 1) duplicates.push(`${k} × ${n}`);

  return { rides: perRide.size, rideEvents: rides.length, driverEvents: drivers.length, doubleAssignments, driverStreamViolations, versionViolations, duplicates, orphanOfferEnds, counts };
}

/**
 * A driver's phone during a trip: a point every `everyMs` of real time, moving from `from` towards
 * `to` at a drivable speed, device times 2 s apart ending near now. It keeps going until `attributed()`
 * says the ride's watchers got one (the instance files a point under the ride only once its own
 * projection has seen the assignment, which on a broker can lag the HTTP answer), then sends `extra`
 * more. Returns the device time of the last point sent.
 */
export async function driveTrip(
  api: Http,
  token: string,
  from: { lat: number; lng: number },
  to: { lat: number; lng: number },
  attributed: () => boolean,
  { extra = 3, everyMs = 250, timeoutMs = 45_000, startAt = Date.now() - 20_000 } = {},
): Promise<number> {
  const steps = 40;
  const deadline = Date.now() + timeoutMs;
  let last = startAt;
  let after = -1;
  for (let i = 1; ; i++) {
    const f = Math.min(1, i / steps);
    last = Math.min(startAt + i * 2_000, Date.now() + 20_000);
    const p = { lat: from.lat + (to.lat - from.lat) * f, lng: from.lng + (to.lng - from.lng) * f, recordedAt: last };
    const r = await api.post('/v1/drivers/me/locations', token, p);
    if (r.status !== 202 || r.body.accepted !== 1) throw new Error(`trip point refused: ${r.status} ${JSON.stringify(r.body)} ${r.error ?? ''}`);
    if (after < 0 && attributed()) after = 0;
    if (after >= 0 && after++ >= extra) return last;
    if (Date.now() > deadline) throw new Error(`no trip point reached the ride's watchers within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
