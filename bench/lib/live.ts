// Rider sockets and driver senders for the live-path scenarios (e2e, fanout).
import { Agent, request } from 'node:http';
import { WebSocket } from 'ws';
import { Samples } from './report.ts';

export interface TripInfo {
  index: number;
  rideId: string;
  driverId: string;
  riderId: string;
  driverToken: string;
  riderToken: string;
  lat: number;
  lng: number;
}

/** Source addresses for client sockets: spread over several so no (src, dst) pair runs out of ports. */
export const SOURCES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);

/**
 * Latency of `driver.location` messages, as the device time they carry (the driver's send time,
 * or the server generator's) to the moment a rider socket receives them. Only points whose device
 * time lies in the window count.
 */
export class Receiver {
  readonly latencies = new Samples();
  received = 0;
  other = 0;
  private from = Infinity;
  private to = -Infinity;
  window(from: number, to: number): void {
    this.latencies.clear();
    this.received = 0;
    this.from = from;
    this.to = to;
  }
  onMessage(raw: string): void {
    // Cheap pre-check before the parse: most messages are locations.
    if (!raw.startsWith('{"type":"driver.location"')) {
      this.other++;
      return;
    }
    const now = Date.now();
    const m = JSON.parse(raw) as { recordedAt: string };
    const at = Date.parse(m.recordedAt);
    if (at >= this.from && at < this.to) {
      this.received++;
      this.latencies.push(now - at);
    }
  }
}

export interface RiderSocket {
  readonly ws: WebSocket;
  readonly rideId: string;
}

/** Opens rider sockets for the trips (at most `concurrency` handshakes at a time), each subscribed to its ride. */
export async function connectRiders(
  wsBase: string,
  trips: readonly TripInfo[],
  receiver: Receiver,
  { concurrency = 100, offset = 0 } = {},
): Promise<{ sockets: RiderSocket[]; failed: number; firstError: string }> {
  const slots: (RiderSocket | undefined)[] = new Array(trips.length);
  let failed = 0;
  let firstError = '';
  let next = 0;
  const one = (t: TripInfo, i: number) =>
    new Promise<RiderSocket>((resolve, reject) => {
      const ws = new WebSocket(`${wsBase}/v1/stream?access_token=${t.riderToken}`, {
        localAddress: SOURCES[(offset + i) % SOURCES.length],
        perMessageDeflate: false,
      });
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error('no `subscribed` within 30 s'));
      }, 30_000);
      ws.once('open', () => ws.send(JSON.stringify({ type: 'subscribe', rideId: t.rideId })));
      ws.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      const first = (data: Buffer) => {
        const text = data.toString();
        if (text.includes('"subscribed"')) {
          clearTimeout(timer);
          ws.off('message', first);
          ws.on('message', (d: Buffer) => receiver.onMessage(d.toString()));
          resolve({ ws, rideId: t.rideId });
        } else if (text.includes('"error"')) {
          clearTimeout(timer);
          ws.terminate();
          reject(new Error(text.slice(0, 200)));
        }
      };
      ws.on('message', first);
    });
  await Promise.all(
    Array.from({ length: Math.min(concurrency, trips.length) }, async () => {
      while (next < trips.length) {
        const i = next++;
        try {
          slots[i] = await one(trips[i]!, i);
        } catch (err) {
          failed++;
          firstError ||= (err as Error).message;
        }
      }
    }),
  );
  // In trip order, whatever order the handshakes finished in.
  return { sockets: slots.filter((x): x is RiderSocket => x !== undefined), failed, firstError };
}

interface DriverState {
  readonly token: string;
  lat: number;
  lng: number;
  at: number;
}

const DLNG = 10 / (111_195 * Math.cos((52.52 * Math.PI) / 180)); // 10 m/s east at Berlin's latitude

/**
 * Drivers POSTing their position once a second each, spread evenly over the second (100 slots of
 * 10 ms), open loop: recordedAt is the moment the request is handed to the socket pool, so client
 * queueing counts in the latency. More than `maxInFlight` outstanding: the point is skipped (counted).
 */
export function driverSender(baseUrl: string, trips: readonly TripInfo[], { maxSockets = 256 } = {}) {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets });
  const drivers: DriverState[] = trips.map((t) => ({ token: t.driverToken, lat: t.lat, lng: t.lng, at: 0 }));
  const c = { sent: 0, ok: 0, non2xx: 0, errors: 0, skipped: 0, inFlight: 0, lastError: '' };
  let from = Infinity;
  let to = -Infinity;
  const w = { sent: 0, ok: 0 };
  /** Each in-window request's round trip (handed to the pool → response ended), ms: tells HTTP queueing from push delay. */
  let postMs: number[] = [];

  function send(d: DriverState, maxInFlight: number) {
    if (c.inFlight >= maxInFlight) return void c.skipped++;
    d.lng += DLNG;
    const at = Math.max(Date.now(), d.at + 1);
    d.at = at;
    const inWindow = at >= from && at < to;
    const body = JSON.stringify({ lat: d.lat, lng: d.lng, recordedAt: at, heading: 90, speed: 10, accuracy: 5 });
    c.inFlight++;
    c.sent++;
    const sentAt = performance.now();
    if (inWindow) w.sent++;
    const req = request(
      {
        agent, host: url.hostname, port: url.port, method: 'POST', path: '/v1/drivers/me/locations',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${d.token}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          c.inFlight--;
          if (inWindow) postMs.push(performance.now() - sentAt);
          if (res.statusCode === 202) {
            c.ok++;
            if (inWindow) w.ok++;
          } else c.non2xx++;
        });
      },
    );
    req.on('error', (e) => {
      c.inFlight--;
      c.errors++;
      c.lastError = e.message;
    });
    req.end(body);
  }

  return {
    counters: c,
    windowCounts: w,
    /** The in-window POST round trips so far, ms. */
    postLatencies: () => postMs,
    window(start: number, end: number) {
      from = start;
      to = end;
      w.sent = 0;
      w.ok = 0;
      postMs = [];
    },
    /** The first `count` drivers send once a second each for `durationMs`. */
    run(count: number, durationMs: number, maxInFlight = count): Promise<void> {
      const slots = 100;
      const active = drivers.slice(0, count);
      const start = performance.now();
      let fired = 0;
      return new Promise((resolve) => {
        const timer = setInterval(() => {
          const elapsed = performance.now() - start;
          const due = Math.floor(elapsed / (1000 / slots));
          for (; fired < due; fired++) for (let k = fired % slots; k < active.length; k += slots) send(active[k]!, maxInFlight);
          if (elapsed >= durationMs) {
            clearInterval(timer);
            resolve();
          }
        }, 2);
      });
    },
    close: () => agent.destroy(),
  };
}
