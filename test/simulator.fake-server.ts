import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { distanceMeters, type LatLng } from '../domain/geo.ts';

/**
 * A stand-in for the Ridecast server, just faithful enough to the public contract (API.md)
 * for the fleet and the map page to be exercised before the real one exists: in-memory
 * users, naive nearest-driver matching, and the admin fleet stream.
 */
type User = { userId: string; username: string; password: string; role: string };
type Ride = { rideId: string; riderId: string; driverId: string | null; status: string; pickup: LatLng; dropoff: LatLng; offeredTo: string | null; offerExpires: number; passedBy: Set<string>; requestedAt: number };
type Driver = { driverId: string; available: boolean; at: LatLng | null; rideId: string | null };
type Client = { ws: WebSocket; user: User; rides: Set<string>; fleet: boolean };

export interface FakeServer {
  app: FastifyInstance;
  calls: Map<string, number>;
  rides: Map<string, Ride>;
  drivers: Map<string, Driver>;
  /** Every ride subscription received, in order, with its `after` (what a reconnecting client asks for). */
  subscriptions: { userId: string; rideId: string; after: string | undefined }[];
  /** Closes every socket from the server side, as a restart or a proxy timeout would. */
  dropSockets(): void;
}

export async function buildFakeServer(opts: { admin: { username: string; password: string }; offerMs?: number; unmatchedMs?: number }): Promise<FakeServer> {
  const app = Fastify();
  await app.register(websocket);
  const users = new Map<string, User>([['u_admin', { userId: 'u_admin', role: 'admin', ...opts.admin }]]);
  const tokens = new Map<string, User>();
  const rides = new Map<string, Ride>();
  const drivers = new Map<string, Driver>();
  const clients = new Set<Client>();
  const calls = new Map<string, number>();
  const subscriptions: FakeServer['subscriptions'] = [];
  let seq = 0;
  let completed = 0;
  let locations = 0;

  const fail = (reply: FastifyReply, statusCode: number, code: string) => reply.code(statusCode).send({ statusCode, code, error: code, message: code });
  const auth = (req: FastifyRequest, reply: FastifyReply, role?: string): User | null => {
    const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
    const user = tokens.get(token);
    if (!user) return void fail(reply, 401, 'UNAUTHORIZED'), null;
    if (role && user.role !== role) return void fail(reply, 403, 'FORBIDDEN'), null;
    return user;
  };
  const send = (filter: (c: Client) => boolean, msg: object) => {
    const text = JSON.stringify(msg);
    for (const c of clients) if (filter(c) && c.ws.readyState === 1) c.ws.send(text);
  };
  const status = (ride: Ride, next: string) => {
    ride.status = next;
    const msg = { type: 'ride.status', rideId: ride.rideId, status: next, eventId: String(++seq), at: new Date().toISOString(), pickup: ride.pickup, dropoff: ride.dropoff, driverId: ride.driverId };
    send((c) => c.fleet || c.rides.has(ride.rideId) || (c.user.userId === ride.driverId && next === 'cancelled'), msg);
    if (['completed', 'cancelled', 'unmatched'].includes(next) && ride.driverId) drivers.get(ride.driverId)!.rideId = null;
  };
  app.addHook('onRequest', async (req) => {
    const key = `${req.method} ${req.routeOptions.url ?? req.url}`;
    calls.set(key, (calls.get(key) ?? 0) + 1);
  });

  app.post<{ Body: { username: string; password: string } }>('/v1/auth/login', async (req, reply) => {
    const user = [...users.values()].find((u) => u.username === req.body.username && u.password === req.body.password);
    if (!user) return fail(reply, 401, 'BAD_CREDENTIALS');
    const token = `t${++seq}`;
    tokens.set(token, user);
    return { token, tokenType: 'Bearer', expiresIn: 3600, userId: user.userId, role: user.role };
  });
  app.post<{ Body: { username: string; password: string; role: string } }>('/v1/users', async (req, reply) => {
    if (!auth(req, reply, 'admin')) return reply;
    if ([...users.values()].some((u) => u.username === req.body.username)) return fail(reply, 409, 'USERNAME_TAKEN');
    const user = { userId: `u_${++seq}`, ...req.body };
    users.set(user.userId, user);
    if (user.role === 'driver') drivers.set(user.userId, { driverId: user.userId, available: false, at: null, rideId: null });
    return reply.code(201).send({ userId: user.userId, username: user.username, role: user.role });
  });
  app.put<{ Body: { available: boolean } }>('/v1/drivers/me/availability', async (req, reply) => {
    const user = auth(req, reply, 'driver');
    if (!user) return reply;
    drivers.get(user.userId)!.available = req.body.available;
    return { available: req.body.available };
  });
  app.post<{ Body: { points: (LatLng & { recordedAt: string; heading: number; speed: number })[] } }>('/v1/drivers/me/locations', async (req, reply) => {
    const user = auth(req, reply, 'driver');
    if (!user) return reply;
    const driver = drivers.get(user.userId)!;
    for (const p of req.body.points) {
      driver.at = { lat: p.lat, lng: p.lng };
      locations++;
      const msg = { type: 'driver.location', rideId: driver.rideId, driverId: driver.driverId, lat: p.lat, lng: p.lng, heading: p.heading, speed: p.speed, recordedAt: p.recordedAt, etaSeconds: null, eventId: String(++seq) };
      send((c) => c.fleet || (driver.rideId !== null && c.rides.has(driver.rideId)), msg);
    }
    return reply.code(202).send({ accepted: req.body.points.length });
  });
  app.post<{ Body: { pickup: LatLng; dropoff: LatLng } }>('/v1/rides', async (req, reply) => {
    const user = auth(req, reply, 'rider');
    if (!user) return reply;
    if ([...rides.values()].some((r) => r.riderId === user.userId && !['completed', 'cancelled', 'unmatched'].includes(r.status))) return fail(reply, 409, 'RIDE_IN_PROGRESS');
    const ride: Ride = { rideId: `r_${++seq}`, riderId: user.userId, driverId: null, status: 'requested', pickup: req.body.pickup, dropoff: req.body.dropoff, offeredTo: null, offerExpires: 0, passedBy: new Set(), requestedAt: Date.now() };
    rides.set(ride.rideId, ride);
    status(ride, 'requested');
    return reply.code(202).send({ rideId: ride.rideId, status: 'requested' });
  });
  app.get<{ Params: { rideId: string } }>('/v1/rides/:rideId', async (req, reply) => {
    const user = auth(req, reply);
    const ride = rides.get(req.params.rideId);
    if (!user) return reply;
    if (!ride || (user.role !== 'admin' && user.userId !== ride.riderId && user.userId !== ride.driverId)) return fail(reply, 404, 'NOT_FOUND');
    return ride;
  });
  const transitions: Record<string, { from: string[]; to: string; who: 'driver' | 'rider' | 'either' }> = {
    accept: { from: ['offered'], to: 'accepted', who: 'driver' },
    decline: { from: ['offered'], to: 'requested', who: 'driver' },
    arrive: { from: ['accepted'], to: 'arrived', who: 'driver' },
    start: { from: ['arrived'], to: 'in_progress', who: 'driver' },
    complete: { from: ['in_progress'], to: 'completed', who: 'driver' },
    cancel: { from: ['requested', 'offered', 'accepted', 'arrived', 'in_progress'], to: 'cancelled', who: 'either' },
  };
  app.post<{ Params: { rideId: string; action: string } }>('/v1/rides/:rideId/:action', async (req, reply) => {
    const user = auth(req, reply);
    if (!user) return reply;
    const ride = rides.get(req.params.rideId);
    const t = transitions[req.params.action];
    if (!t) return fail(reply, 404, 'NOT_FOUND');
    const mine = ride && (user.userId === ride.riderId || user.userId === ride.driverId || user.userId === ride.offeredTo);
    if (!ride || !mine) return fail(reply, 404, 'NOT_FOUND');
    if (!t.from.includes(ride.status)) return fail(reply, 409, 'INVALID_TRANSITION');
    if (t.to === 'accepted') Object.assign(ride, { driverId: user.userId, offeredTo: null }), (drivers.get(user.userId)!.rideId = ride.rideId);
    if (req.params.action === 'decline') ride.passedBy.add(user.userId), (ride.offeredTo = null);
    if (t.to === 'completed') completed++;
    status(ride, t.to);
    return ride;
  });

  app.get('/v1/stream', { websocket: true }, (ws, req) => {
    const user = tokens.get((req.query as { access_token?: string }).access_token ?? '');
    if (!user) return ws.close(4401, 'unauthorized');
    const client: Client = { ws, user, rides: new Set(), fleet: false };
    clients.add(client);
    ws.on('close', () => clients.delete(client));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { type: string; rideId?: string; fleet?: boolean; after?: string };
      if (m.type === 'ping') return ws.send('{"type":"pong"}');
      if (m.type === 'unsubscribe' && m.rideId) return void client.rides.delete(m.rideId);
      if (m.type !== 'subscribe') return;
      if (m.fleet && user.role === 'admin') {
        client.fleet = true;
        const active = [...rides.values()].filter((r) => !['completed', 'cancelled', 'unmatched'].includes(r.status));
        const list = [...drivers.values()].filter((d) => d.at).map((d) => ({ driverId: d.driverId, ...d.at!, status: d.rideId ? 'on_trip' : d.available ? 'available' : 'offline' }));
        return ws.send(JSON.stringify({ type: 'fleet.snapshot', drivers: list, rides: active.map(({ rideId, status, pickup, dropoff, driverId }) => ({ rideId, status, pickup, dropoff, driverId })) }));
      }
      const ride = m.rideId ? rides.get(m.rideId) : undefined;
      if (m.rideId) subscriptions.push({ userId: user.userId, rideId: m.rideId, after: m.after });
      if (!ride || (user.role !== 'admin' && ![ride.riderId, ride.driverId].includes(user.userId))) return ws.send(JSON.stringify({ type: 'error', code: 'NOT_FOUND', message: 'no such ride' }));
      client.rides.add(ride.rideId);
      ws.send(JSON.stringify({ type: 'subscribed', rideId: ride.rideId }));
    });
  });

  const matcher = setInterval(() => {
    const now = Date.now();
    for (const ride of rides.values()) {
      if (ride.status === 'offered' && now > ride.offerExpires) ride.passedBy.add(ride.offeredTo!), (ride.offeredTo = null), status(ride, 'requested');
      if (ride.status !== 'requested') continue;
      if (now - ride.requestedAt > (opts.unmatchedMs ?? 60_000)) { status(ride, 'unmatched'); continue; }
      const busy = new Set([...rides.values()].filter((r) => r.status === 'offered').map((r) => r.offeredTo));
      const free = [...drivers.values()].filter((d) => d.available && d.at && !d.rideId && !busy.has(d.driverId) && !ride.passedBy.has(d.driverId));
      const best = free.sort((a, b) => distanceMeters(a.at!, ride.pickup) - distanceMeters(b.at!, ride.pickup))[0];
      if (!best) continue;
      Object.assign(ride, { offeredTo: best.driverId, offerExpires: now + (opts.offerMs ?? 10_000) });
      status(ride, 'offered');
      const offer = { type: 'ride.offer', rideId: ride.rideId, pickup: ride.pickup, dropoff: ride.dropoff, distanceMeters: 0, etaSeconds: 60, expiresAt: new Date(ride.offerExpires).toISOString(), eventId: String(++seq) };
      send((c) => c.user.userId === best.driverId, offer);
    }
  }, 200);
  let lastLocations = 0;
  const stats = setInterval(() => {
    const all = [...drivers.values()];
    const msg = { type: 'fleet.stats', driversOnline: all.filter((d) => d.available).length, driversOnTrip: all.filter((d) => d.rideId).length, activeRides: [...rides.values()].filter((r) => !['completed', 'cancelled', 'unmatched'].includes(r.status)).length, ridesCompleted: completed, locationsPerSecond: (locations - lastLocations) / 2 };
    lastLocations = locations;
    send((c) => c.fleet, msg);
  }, 2_000);
  app.addHook('onClose', async () => (clearInterval(matcher), clearInterval(stats)));
  const dropSockets = () => {
    for (const c of clients) c.ws.close(1012, 'restarting');
  };
  return { app, calls, rides, drivers, subscriptions, dropSockets };
}
