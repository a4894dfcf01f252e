// The floor of the live path (BENCH_MODE=bare-live, bench/server.ts): bare Fastify + @fastify/websocket
// doing only what the e2e scenario's sockets see. A driver POSTs a point (the same body schema as
// POST /v1/drivers/me/locations, answered 202, no auth, no log, no consumer) and the rider socket
// watching that driver's ride is sent a `driver.location` message of the service's shape at once.
// With /bench/drive it is the fanout scenario's floor: the same generator, each message straight to
// its socket. Same clients, same connections, same rate as the service runs: what is left of the service's CPU
// per point over this floor is the service's own; the floor itself is Node, the kernel's loopback
// TCP (one HTTP reply and one WebSocket frame per point, each to a different socket) and the VM.
import fastifyWebsocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { LocationsBody, LocationsReply } from '../../adapters/http/schemas.ts';
import type { TripInfo } from './live.ts';

const hide = { schema: { hide: true } };
const CENTER = { lat: 52.52, lng: 13.405 };

export async function bareLiveRoutes(app: FastifyInstance) {
  await app.register(fastifyWebsocket, { options: { maxPayload: 16 * 1024 } });
  /** Rider sockets by ride, and each driver's ride (the token names the trip: no verification). */
  const watchers = new Map<string, Set<WebSocket>>();
  const rideOfDriver = new Map<string, string>();
  let sockets = 0;
  const counts = { accepted: 0, pushed: 0 };
  const reply = { accepted: 1, rejected: 0, rejections: [] };

  app.post<{ Body: { from: number; count: number } }>('/bench/trips', hide, async (request) => {
    const { from, count } = request.body;
    const trips: TripInfo[] = Array.from({ length: count }, (_, k) => {
      const i = from + k;
      const t = { index: i, rideId: `r_bare${i}`, driverId: `d_bare${i}`, riderId: `u_bare${i}`, driverToken: `d_bare${i}`, riderToken: `u_bare${i}`, lat: CENTER.lat + (i % 100) * 1e-4, lng: CENTER.lng + Math.floor(i / 100) * 1e-4 };
      rideOfDriver.set(t.driverId, t.rideId);
      return t;
    });
    return { trips };
  });

  app.get('/v1/stream', { websocket: true, ...hide }, (socket) => {
    sockets++;
    const mine = new Set<string>();
    socket.on('message', (raw: Buffer) => {
      const m = JSON.parse(raw.toString()) as { type?: string; rideId?: string };
      if (m.type !== 'subscribe' || !m.rideId) return;
      let set = watchers.get(m.rideId);
      if (!set) watchers.set(m.rideId, (set = new Set()));
      set.add(socket);
      mine.add(m.rideId);
      socket.send(JSON.stringify({ type: 'subscribed', rideId: m.rideId }));
    });
    socket.on('close', () => {
      sockets--;
      for (const rideId of mine) watchers.get(rideId)?.delete(socket);
    });
  });

  app.post<{ Body: { lat: number; lng: number; recordedAt: number | string; heading?: number | null; speed?: number | null } }>(
    '/v1/drivers/me/locations',
    { schema: { body: LocationsBody, response: { 202: LocationsReply } } },
    async (request, res) => {
      const driverId = (request.headers.authorization ?? '').slice('Bearer '.length);
      const rideId = rideOfDriver.get(driverId) ?? null;
      const p = request.body;
      counts.accepted++;
      const watching = rideId ? watchers.get(rideId) : undefined;
      if (watching?.size) {
        const json = JSON.stringify({
          type: 'driver.location', rideId, driverId, lat: p.lat, lng: p.lng, heading: p.heading ?? null, speed: p.speed ?? null,
          recordedAt: new Date(p.recordedAt).toISOString(), etaSeconds: null, eventId: `driver-locations:${counts.accepted}`,
        });
        for (const ws of watching) ws.send(json);
        counts.pushed += watching.size;
      }
      return res.status(202).send(reply);
    },
  );

  // The fanout scenario's generator, as bench/server.ts runs it through the service: each ride's
  // driver once a second, 100 slots of 10 ms, at most 50 ms of overdue slots per turn (the rest skipped).
  const drive = { running: false, sent: 0, skipped: 0, accepted: 0, acceptedInWindow: 0, errors: 0, lastError: '', windowFrom: 0, windowTo: 0 };
  app.post<{ Body: { from: number; count: number; durationMs: number; windowFrom?: number; windowTo?: number } }>('/bench/drive', hide, async (request) => {
    const { from, count, durationMs, windowFrom = 0, windowTo = 0 } = request.body;
    Object.assign(drive, { running: true, sent: 0, skipped: 0, accepted: 0, acceptedInWindow: 0, windowFrom, windowTo });
    const state = Array.from({ length: count }, (_, k) => ({ driverId: `d_bare${from + k}`, rideId: `r_bare${from + k}`, lat: CENTER.lat, lng: CENTER.lng, at: 0 }));
    const slots = 100;
    const start = performance.now();
    let fired = 0;
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      const due = Math.floor(elapsed / (1000 / slots));
      for (; due - fired > 5; fired++) drive.skipped += Math.ceil((state.length - (fired % slots)) / slots);
      for (; fired < due; fired++) {
        for (let k = fired % slots; k < state.length; k += slots) {
          const d = state[k]!;
          d.lng += 1.4e-4;
          d.at = Math.max(Date.now(), d.at + 1);
          drive.sent++;
          drive.accepted++;
          if (d.at >= drive.windowFrom && d.at < drive.windowTo) drive.acceptedInWindow++;
          const json = JSON.stringify({
            type: 'driver.location', rideId: d.rideId, driverId: d.driverId, lat: d.lat, lng: d.lng, heading: 90, speed: 10,
            recordedAt: new Date(d.at).toISOString(), etaSeconds: null, eventId: `driver-locations:${drive.sent}`,
          });
          for (const ws of watchers.get(d.rideId) ?? []) ws.send(json);
        }
      }
      if (elapsed >= durationMs) {
        clearInterval(timer);
        drive.running = false;
      }
    }, 2);
    return { started: true };
  });
  app.get('/bench/drive', hide, async () => drive);

  /** What /bench/stats adds: the e2e scenario waits for locationsSeen ≥ locationsAccepted (here always). */
  return async () => ({ sockets, locationsAccepted: counts.accepted + drive.accepted, locationsSeen: counts.accepted + drive.accepted, pushed: counts.pushed });
}
