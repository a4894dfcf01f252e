import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_MESSAGE_TYPES, SERVER_MESSAGE_TYPES } from '../adapters/http/asyncapi.ts';
import { MESSAGE_SCHEMAS } from '../adapters/http/stream.ts';
import { client, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';
import { connect, type LiveClient } from './support/ws.ts';

/**
 * The WebSocket protocol as an AsyncAPI 3 document (`GET /asyncapi.json`, docs/asyncapi.json),
 * and proof that it tells the truth: every message the server sends during a whole ride (rider,
 * driver, operator and a share token watching; replays, errors, acks) validates against its schema.
 */
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const DOC_FILE = join(import.meta.dirname, '..', 'docs', 'asyncapi.json');
const pickup = { lat: 38.7223, lng: -9.1393 };
const dropoff = { lat: 38.7369, lng: -9.1427 };

let service: Awaited<ReturnType<typeof startService>>;
let api: ReturnType<typeof client>;
let doc: Json;
const sockets: LiveClient[] = [];

beforeAll(async () => {
  // Offers fan out to two drivers, so a whole ride also shows `ride.offer.withdrawn` (OFFER_FANOUT).
  service = await startService({}, { matchPolicy: { freshnessMs: 10 * 60_000 } }, { OFFER_FANOUT: '2' });
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  api = client(service.app);
  doc = (await api.get('/asyncapi.json')).body;
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await service?.close();
});

/** `#/a/b` → the object at that place in the document. */
function resolve(ref: string): Json {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<Json>((at, key) => at?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

function validators(action: 'send' | 'receive'): Map<string, ValidateFunction> {
  const ajv = new Ajv({ allErrors: true, strict: false, formats: { 'date-time': (s: string) => Number.isFinite(Date.parse(s)) } });
  const out = new Map<string, ValidateFunction>();
  for (const operation of Object.values(doc.operations as Record<string, Json>)) {
    if (operation.action !== action) continue;
    for (const ref of operation.messages as { $ref: string }[]) {
      const message = resolve(resolve(ref.$ref).$ref ?? ref.$ref);
      out.set(message.name, ajv.compile(message.payload));
    }
  }
  return out;
}

describe('the AsyncAPI document', () => {
  it('is what docs/asyncapi.json holds (UPDATE_DOCS=1 rewrites the file)', () => {
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (process.env.UPDATE_DOCS === '1') writeFileSync(DOC_FILE, text);
    expect(readFileSync(DOC_FILE, 'utf8')).toBe(text);
  });

  it('is AsyncAPI 3 whose references resolve and whose examples fit their own schemas', () => {
    expect(doc.asyncapi).toMatch(/^3\./);
    expect(doc.channels.stream.address).toBe('/v1/stream');
    for (const [name, operation] of Object.entries(doc.operations as Record<string, Json>)) {
      expect(['send', 'receive'], name).toContain(operation.action);
      expect(resolve(operation.channel.$ref), name).toBe(doc.channels.stream);
      for (const ref of operation.messages) expect(resolve(resolve(ref.$ref).$ref), `${name} → ${ref.$ref}`).toBeDefined();
    }
    const all = new Map([...validators('send'), ...validators('receive')]);
    for (const message of Object.values(doc.components.messages as Record<string, Json>)) {
      const validate = all.get(message.name)!;
      for (const example of message.examples) expect(validate(example.payload), `${message.name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect([...validators('send').keys()].sort()).toEqual([...SERVER_MESSAGE_TYPES].sort());
    // Every message type the stream accepts is documented, and nothing else.
    expect([...validators('receive').keys()].sort()).toEqual(Object.keys(MESSAGE_SCHEMAS).sort());
    expect([...CLIENT_MESSAGE_TYPES].sort()).toEqual(Object.keys(MESSAGE_SCHEMAS).sort());
  });
});

describe('every message the server sends during a whole ride', () => {
  it('validates against the AsyncAPI schema of its type', async () => {
    const open = async (token: string, via: 'header' | 'query' = 'header') => {
      const socket = await connect(service.app, token, { via });
      sockets.push(socket);
      return socket;
    };
    const admin = await api.login('admin', 'admin-password-1');
    const rider = await api.user('rider');
    const driver = await api.user('driver');
    const operator = await open(admin.token);
    const riderSocket = await open(rider.token, 'query');
    const driverSocket = await open(driver.token);
    const other = await api.user('driver');
    const otherSocket = await open(other.token);

    // The operator watches the fleet (snapshot, then stats every 2 s and every event).
    operator.send({ type: 'subscribe', fleet: true });
    await operator.next('fleet.snapshot');
    // Client mistakes are answered with `error` messages.
    expect(await riderSocket.request({ type: 'ping' }, 'pong')).toEqual({ type: 'pong' });
    const fresh = (await api.call('POST', '/v1/auth/refresh', rider.token)).body.token as string;
    expect(await riderSocket.request({ type: 'auth', token: fresh }, 'authenticated')).toMatchObject({ type: 'authenticated' });
    riderSocket.sendRaw('{not json');
    await riderSocket.next('error', (m) => m.code === 'INVALID_JSON');
    riderSocket.send({ type: 'teleport' });
    await riderSocket.next('error', (m) => m.code === 'UNKNOWN_TYPE');
    riderSocket.send({ type: 'subscribe', rideId: 'r_nobody' });
    await riderSocket.next('error', (m) => m.code === 'NOT_FOUND');

    // The driver goes online and reports over the socket.
    expect((await api.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
    let clock = Date.now() - 5 * 60_000;
    const fix = (p: { lat: number; lng: number }) => ({ type: 'location', ...p, recordedAt: (clock += 10_000) });
    expect(await driverSocket.request(fix({ lat: 38.723, lng: -9.14 }), 'location.ack')).toMatchObject({ accepted: 1 });
    expect(await driverSocket.request({ type: 'location', lat: 91, lng: 0, recordedAt: clock }, 'error')).toMatchObject({ code: 'VALIDATION_ERROR' });
    await waitFor(() => service.ctx.fleet.get(driver.userId)?.position, 'the driver to have a position');
    // A second driver a little further away gets the same offer, and sees it withdrawn when the first accepts.
    expect((await api.put('/v1/drivers/me/availability', other.token, { available: true })).status).toBe(200);
    expect((await api.post('/v1/drivers/me/locations', other.token, { lat: 38.7235, lng: -9.1405, recordedAt: Date.now() - 60_000 })).body).toMatchObject({ accepted: 1 });
    await waitFor(() => service.ctx.fleet.get(other.userId)?.position, 'the second driver to have a position');

    // The rider requests and watches; the driver gets the offer, accepts and drives the trip.
    const { rideId } = (await api.post('/v1/rides', rider.token, { pickup, dropoff })).body;
    riderSocket.send({ type: 'subscribe', rideId });
    await riderSocket.next('subscribed');
    await driverSocket.next('ride.offer', (m) => m.rideId === rideId);
    await otherSocket.next('ride.offer', (m) => m.rideId === rideId);
    driverSocket.send({ type: 'subscribe', rideId });
    await driverSocket.next('subscribed');
    const family = await open((await api.post(`/v1/rides/${rideId}/share`, rider.token)).body.token);
    family.send({ type: 'subscribe', rideId });
    await family.next('subscribed');
    expect((await api.post(`/v1/rides/${rideId}/accept`, driver.token)).status).toBe(200);
    await riderSocket.next('ride.status', (m) => m.event === 'RideAccepted');
    expect(await otherSocket.next('ride.offer.withdrawn', (m) => m.rideId === rideId)).toMatchObject({ reason: 'accepted' });
    expect((await api.post(`/v1/rides/${rideId}/accept`, other.token)).body).toMatchObject({ code: 'OFFER_EXPIRED' });
    await waitFor(() => service.ctx.fleet.get(driver.userId)?.rideId === rideId, 'the driver to be assigned');
    expect(await driverSocket.request(fix({ lat: 38.7225, lng: -9.1395 }), 'location.ack')).toMatchObject({ accepted: 1 });
    await riderSocket.next('driver.location');
    expect((await api.post(`/v1/rides/${rideId}/arrive`, driver.token)).status).toBe(200);
    expect((await api.post(`/v1/rides/${rideId}/start`, driver.token)).status).toBe(200);
    for (let i = 1; i <= 4; i++) {
      const at = { lat: pickup.lat + ((dropoff.lat - pickup.lat) * i) / 4, lng: pickup.lng + ((dropoff.lng - pickup.lng) * i) / 4 };
      expect(await driverSocket.request(fix(at), 'location.ack')).toMatchObject({ accepted: 1 });
    }
    expect((await api.post(`/v1/rides/${rideId}/complete`, driver.token)).status).toBe(200);
    await riderSocket.next('ride.status', (m) => m.event === 'PaymentCaptured');
    expect((await api.post(`/v1/rides/${rideId}/rating`, rider.token, { stars: 5, comment: 'smooth' })).status).toBe(201);
    const rated = await riderSocket.next('ride.status', (m) => m.event === 'RideRated');
    // The share token's watch ends with the trip.
    await family.next('unsubscribed');

    // A late-comer replays the whole ride from its first event; a bogus `after` is a REPLAY_GAP.
    const replayer = await open(rider.token);
    const first = riderSocket.all('ride.status')[0]!;
    replayer.send({ type: 'subscribe', rideId, after: first.eventId });
    await replayer.next('ride.status', (m) => m.eventId === rated.eventId);
    replayer.send({ type: 'subscribe', rideId, after: 'rides:999999999' });
    await replayer.next('error', (m) => m.code === 'REPLAY_GAP');
    expect(await replayer.request({ type: 'unsubscribe', rideId }, 'unsubscribed')).toMatchObject({ rideId });
    await operator.next('fleet.stats', undefined, 10_000);

    const validate = validators('send');
    const seen = new Map<string, number>();
    for (const socket of sockets) {
      for (const message of socket.messages) {
        const check = validate.get(message.type);
        expect(check, `no schema for a "${message.type}" message`).toBeDefined();
        expect(check!(message), `${JSON.stringify(message)}\n${JSON.stringify(check!.errors)}`).toBe(true);
        seen.set(message.type, (seen.get(message.type) ?? 0) + 1);
      }
    }
    // Every kind of message the document lists was really sent and checked.
    expect([...seen.keys()].sort()).toEqual([...SERVER_MESSAGE_TYPES].sort());
    const events = new Set(sockets.flatMap((s) => s.all('ride.status').map((m) => m.event)));
    expect([...events].sort()).toEqual(
      ['DriverArrived', 'FareCalculated', 'OfferWithdrawn', 'PaymentCaptured', 'RideAccepted', 'RideOffered', 'RideRated', 'RideRequested', 'TripCompleted', 'TripStarted'].sort(),
    );
  });
});
