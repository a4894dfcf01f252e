import { createHmac } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { StreamName } from '../domain/ports/event-log.ts';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { ADMIN, client, startService } from './support/service.ts';
import { settledLog } from './support/settled-log.ts';
import { waitFor } from './support/wait.ts';

/**
 * Hostile input: hundreds of generated bad requests and socket messages. Every one is answered
 * with a 4xx in Fastify's error shape and a stable code (or `{type:'error', code}` on a socket that
 * stays usable), nothing is appended to any stream, and the process keeps serving.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';

interface HttpCase {
  readonly name: string;
  readonly method: Method;
  readonly url: string;
  /** Authorization header value; undefined sends none. */
  readonly auth?: string;
  readonly headers?: Record<string, string>;
  /** An object is sent as JSON; a string is sent as is (with `content-type` from headers, JSON by default). */
  readonly payload?: unknown;
  readonly status: number;
  readonly code: string;
  /** A fragment the message must contain (the field it names). */
  readonly mentions?: string;
}

const STREAMS: StreamName[] = ['rides', 'drivers', 'driver-locations'];
const pickup = { lat: 38.7223, lng: -9.1393 };
const dropoff = { lat: 38.7369, lng: -9.1427 };
const SECRET = 'test-secret-that-is-long-enough';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
/** A JWT made by hand: any header, any claims, signed with any HMAC (or not at all). */
function craft(header: Json, claims: Json, secret?: string, hash = 'sha256'): string {
  const signed = `${b64(header)}.${b64(claims)}`;
  return `${signed}.${secret ? createHmac(hash, secret).update(signed).digest('base64url') : ''}`;
}

/** What is wrong with an HTTP answer, or null when it is a proper error answer. */
function shapeProblem(status: number, contentType: string | undefined, text: string, c: HttpCase): string | null {
  if (status !== c.status) return `status ${status}, expected ${c.status}: ${text.slice(0, 200)}`;
  if (!contentType?.startsWith('application/json')) return `content-type ${contentType}`;
  let body: Json;
  try {
    body = JSON.parse(text) as Json;
  } catch {
    return `not JSON: ${text.slice(0, 100)}`;
  }
  const keys = Object.keys(body).sort().join(',');
  if (keys !== 'code,error,message,statusCode') return `keys ${keys}`;
  if (body.statusCode !== status) return `statusCode ${body.statusCode}`;
  if (body.error !== STATUS_CODES[status]) return `error ${body.error}`;
  if (body.code !== c.code) return `code ${body.code}, expected ${c.code} (${body.message})`;
  if (typeof body.message !== 'string' || body.message.length === 0) return 'empty message';
  if (c.mentions && !body.message.includes(c.mentions)) return `message "${body.message}" does not mention ${c.mentions}`;
  return null;
}

describe('hostile input', () => {
  let service: Awaited<ReturnType<typeof startService>>;
  let api: ReturnType<typeof client>;
  let wsBase: string;
  const ids: Record<string, { token: string; userId: string }> = {};
  let rideId: string;
  let shareToken: string;
  let tried = { http: 0, upgrades: 0, messages: 0 };
  const log = settledLog(getInMemoryEventLog());

  const counts = async () => Object.fromEntries(await Promise.all(STREAMS.map(async (s) => [s, (await service.ctx.log.read(s)).length] as const)));

  beforeAll(async () => {
    // A long offer window, so nothing moves on its own while the hostile requests run.
    service = await startService({ log }, {}, { OFFER_TIMEOUT_MS: '60000' });
    api = client(service.app);
    ids.admin = await api.login(ADMIN.username, ADMIN.password);
    for (const role of ['rider', 'driver'] as const) {
      ids[`${role}A`] = await api.user(role);
      ids[`${role}B`] = await api.user(role);
    }
    ids.service = await api.user('service');
    // Rider A's ride, accepted by driver A (the only available driver).
    const driverA = ids.driverA!;
    expect((await api.put('/v1/drivers/me/availability', driverA.token, { available: true })).status).toBe(200);
    expect((await api.post('/v1/drivers/me/locations', driverA.token, { ...pickup, recordedAt: Date.now() - 1_000 })).status).toBe(202);
    const requested = await api.post('/v1/rides', ids.riderA!.token, { pickup, dropoff });
    expect(requested.status).toBe(202);
    rideId = requested.body.rideId;
    await waitFor(async () => (await api.get(`/v1/rides/${rideId}`, driverA.token)).body.status === 'offered', 'the offer');
    expect((await api.post(`/v1/rides/${rideId}/accept`, driverA.token)).status).toBe(200);
    await waitFor(() => service.ctx.fleet.get(driverA.userId)?.rideId === rideId, 'driver A to be assigned');
    shareToken = (await api.post(`/v1/rides/${rideId}/share`, ids.riderA!.token)).body.token;
    // Quiet: every consumer has handled everything appended (the reactions to the acceptance have landed).
    await waitFor(() => log.settled(), 'every consumer to catch up with the log');

    await service.app.listen({ port: 0, host: '127.0.0.1' });
    wsBase = `ws://127.0.0.1:${(service.app.server.address() as AddressInfo).port}/v1/stream`;
  });

  afterAll(async () => {
    console.info(`hostile inputs tried: ${tried.http} HTTP requests, ${tried.upgrades} socket upgrades, ${tried.messages} socket messages`);
    await service?.close();
  });

  /** Bearer tokens that must not open anything: forged, `alg: none`, expired, wrong secret, malformed. */
  function badAuthorizations(): [string, string | undefined][] {
    const now = Math.floor(Date.now() / 1000);
    const asAdmin = { sub: ids.admin!.userId, role: 'admin', iat: now, exp: now + 3600 };
    const riderToken = ids.riderA!.token;
    const [head, , sig] = riderToken.split('.');
    return [
      ['no header', undefined],
      ['empty header', ''],
      ['"Bearer" alone', 'Bearer'],
      ['"Bearer " and nothing', 'Bearer '],
      ['Basic credentials', `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`],
      ['garbage', 'Bearer not-a-token'],
      ['three empty-ish parts', 'Bearer a.b.c'],
      ['alg none', `Bearer ${craft({ alg: 'none', typ: 'JWT' }, asAdmin)}`],
      ['alg None', `Bearer ${craft({ alg: 'None', typ: 'JWT' }, asAdmin)}`],
      ['alg NONE', `Bearer ${craft({ alg: 'NONE', typ: 'JWT' }, asAdmin)}`],
      ['alg none with a signature', `Bearer ${craft({ alg: 'none', typ: 'JWT' }, asAdmin, SECRET)}`],
      ['wrong secret', `Bearer ${craft({ alg: 'HS256', typ: 'JWT' }, asAdmin, 'some-other-secret-that-is-long')}`],
      ['expired', `Bearer ${craft({ alg: 'HS256', typ: 'JWT' }, { ...asAdmin, iat: now - 7200, exp: now - 60 })}`],
      ['expired, right secret', `Bearer ${craft({ alg: 'HS256', typ: 'JWT' }, { ...asAdmin, iat: now - 7200, exp: now - 60 }, SECRET)}`],
      ['not yet valid', `Bearer ${craft({ alg: 'HS256', typ: 'JWT' }, { ...asAdmin, nbf: now + 3600 }, SECRET)}`],
      ['HS512 with the right secret', `Bearer ${craft({ alg: 'HS512', typ: 'JWT' }, asAdmin, SECRET, 'sha512')}`],
      ['RS256 header, HMAC signature', `Bearer ${craft({ alg: 'RS256', typ: 'JWT' }, asAdmin, SECRET)}`],
      ['tampered claims', `Bearer ${head}.${b64({ ...asAdmin })}.${sig}`],
      ['signature stripped', `Bearer ${head}.${riderToken.split('.')[1]}.`],
      ['unicode', 'Bearer ✓.✓.✓'],
      ['huge', `Bearer ${'a'.repeat(6_000)}`],
      ['two tokens', `Bearer ${riderToken} ${riderToken}`],
    ];
  }

  function httpCases(): HttpCase[] {
    const R = rideId;
    const rider = `Bearer ${ids.riderA!.token}`;
    const otherRider = `Bearer ${ids.riderB!.token}`;
    const driverB = `Bearer ${ids.driverB!.token}`;
    const admin = `Bearer ${ids.admin!.token}`;
    const point = { lat: 38.72, lng: -9.14, recordedAt: Date.now() - 500 };
    const cases: HttpCase[] = [];
    const add = (c: HttpCase) => cases.push(c);

    // 1. Every protected route, with a valid body, under every bad token: 401; a share token: 403.
    const protectedRoutes: Omit<HttpCase, 'name' | 'status' | 'code'>[] = [
      { method: 'GET', url: `/v1/rides/${R}` },
      { method: 'POST', url: '/v1/rides', payload: { pickup, dropoff } },
      { method: 'POST', url: '/v1/drivers/me/locations', payload: point },
      { method: 'PUT', url: '/v1/drivers/me/availability', payload: { available: false } },
      { method: 'POST', url: '/v1/users', payload: { username: 'sneaky-admin', password: 'password-123', role: 'admin' } },
      { method: 'GET', url: '/v1/drivers/nearby?lat=38.72&lng=-9.14' },
      { method: 'POST', url: `/v1/rides/${R}/cancel`, payload: { reason: 'hostile' } },
      { method: 'POST', url: '/v1/auth/refresh', payload: {} },
      { method: 'GET', url: `/v1/rides/${R}/track` },
      { method: 'POST', url: `/v1/rides/${R}/start`, payload: {} },
    ];
    for (const [label, auth] of badAuthorizations())
      for (const route of protectedRoutes) add({ ...route, name: `${label}: ${route.method} ${route.url}`, auth, status: 401, code: 'UNAUTHORIZED' });
    for (const route of protectedRoutes)
      add({ ...route, name: `share token: ${route.method} ${route.url}`, auth: `Bearer ${shareToken}`, status: 403, code: 'FORBIDDEN' });

    // 2. Requesting a ride (rider B has none, so anything that slipped through would append one).
    const wrongValues: [string, unknown][] = [
      ['null', null],
      ['true', true],
      ['false', false],
      ['a numeric string', '38.7'],
      ['"NaN"', 'NaN'],
      ['"Infinity"', 'Infinity'],
      ['"-Infinity"', '-Infinity'],
      ['an empty string', ''],
      ['an array', [38.7]],
      ['an object', {}],
      ['a NoSQL $gt', { $gt: '' }],
      ['a NoSQL $ne', { $ne: null }],
      ['SQL', "' OR 1=1 --"],
      ['a NUL', '\u0000'],
      ['an emoji', '🚕'],
      ['a right-to-left override', '\u202e1.5'],
    ];
    for (const [label, value] of wrongValues) {
      add({ name: `pickup.lat is ${label}`, method: 'POST', url: '/v1/rides', auth: otherRider, payload: { pickup: { ...pickup, lat: value }, dropoff }, status: 400, code: 'VALIDATION_ERROR', mentions: 'body.pickup.lat' });
      add({ name: `dropoff.lng is ${label}`, method: 'POST', url: '/v1/rides', auth: otherRider, payload: { pickup, dropoff: { ...dropoff, lng: value } }, status: 400, code: 'VALIDATION_ERROR', mentions: 'body.dropoff.lng' });
      add({ name: `pickup is ${label}`, method: 'POST', url: '/v1/rides', auth: otherRider, payload: { pickup: value, dropoff }, status: 400, code: 'VALIDATION_ERROR', mentions: 'body.pickup' });
    }
    const outOfRange: [string, Json, string][] = [
      ['lat 91', { pickup: { ...pickup, lat: 91 }, dropoff }, 'body.pickup.lat'],
      ['lat -91', { pickup: { ...pickup, lat: -91 }, dropoff }, 'body.pickup.lat'],
      ['lat 90.000001', { pickup, dropoff: { ...dropoff, lat: 90.000001 } }, 'body.dropoff.lat'],
      ['lng 181', { pickup: { ...pickup, lng: 181 }, dropoff }, 'body.pickup.lng'],
      ['lng -1e6', { pickup, dropoff: { ...dropoff, lng: -1e6 } }, 'body.dropoff.lng'],
      ['lat 1e308', { pickup: { ...pickup, lat: 1e308 }, dropoff }, 'body.pickup.lat'],
      ['no pickup', { dropoff }, 'pickup'],
      ['no dropoff', { pickup }, 'dropoff'],
      ['empty object', {}, 'pickup'],
      ['no lat', { pickup: { lng: 1 }, dropoff }, 'lat'],
      ['unknown top-level field', { pickup, dropoff, riderId: ids.riderA!.userId }, 'body.riderId'],
      ['a status smuggled in', { pickup, dropoff, status: 'completed' }, 'body.status'],
      ['unknown nested field', { pickup: { ...pickup, alt: 3 }, dropoff }, 'body.pickup.alt'],
    ];
    for (const [label, payload, mentions] of outOfRange)
      add({ name: `ride request: ${label}`, method: 'POST', url: '/v1/rides', auth: otherRider, payload, status: 400, code: 'VALIDATION_ERROR', mentions });

    const json = { 'content-type': 'application/json' };
    const validRide = JSON.stringify({ pickup, dropoff });
    const raw: [string, string, number, string][] = [
      ['literal NaN', '{"pickup":{"lat":NaN,"lng":0},"dropoff":{"lat":1,"lng":1}}', 400, 'INVALID_JSON'],
      ['literal Infinity', '{"pickup":{"lat":Infinity,"lng":0},"dropoff":{"lat":1,"lng":1}}', 400, 'INVALID_JSON'],
      ['literal -Infinity', '{"pickup":{"lat":-Infinity,"lng":0},"dropoff":{"lat":1,"lng":1}}', 400, 'INVALID_JSON'],
      ['literal undefined', '{"pickup":undefined,"dropoff":{"lat":1,"lng":1}}', 400, 'INVALID_JSON'],
      ['hex number', '{"pickup":{"lat":0x10,"lng":0},"dropoff":{"lat":1,"lng":1}}', 400, 'INVALID_JSON'],
      ['leading plus', '{"pickup":{"lat":+1,"lng":0},"dropoff":{"lat":1,"lng":1}}', 400, 'INVALID_JSON'],
      ['single quotes', "{'pickup':{'lat':1,'lng':0}}", 400, 'INVALID_JSON'],
      ['unquoted keys', '{pickup:{lat:1,lng:0},dropoff:{lat:1,lng:1}}', 400, 'INVALID_JSON'],
      ['trailing comma', '{"pickup":{"lat":1,"lng":0},"dropoff":{"lat":1,"lng":1},}', 400, 'INVALID_JSON'],
      ['a comment', '{"pickup":{"lat":1,"lng":0}, /* hi */ "dropoff":{"lat":1,"lng":1}}', 400, 'INVALID_JSON'],
      ['truncated', validRide.slice(0, -3), 400, 'INVALID_JSON'],
      ['empty body', '', 400, 'INVALID_JSON'],
      ['only whitespace', '   ', 400, 'INVALID_JSON'],
      ['__proto__ pollution', `{"__proto__":{"admin":true},${validRide.slice(1)}`, 400, 'INVALID_JSON'],
      ['constructor.prototype pollution', `{"constructor":{"prototype":{"admin":true}},${validRide.slice(1)}`, 400, 'INVALID_JSON'],
      ['1e400 (parses as Infinity)', '{"pickup":{"lat":1e400,"lng":0},"dropoff":{"lat":1,"lng":1}}', 400, 'VALIDATION_ERROR'],
      ['null', 'null', 400, 'VALIDATION_ERROR'],
      ['an array', `[${validRide}]`, 400, 'VALIDATION_ERROR'],
      ['a string', JSON.stringify(validRide), 400, 'VALIDATION_ERROR'],
      ['a number', '42', 400, 'VALIDATION_ERROR'],
      ['true', 'true', 400, 'VALIDATION_ERROR'],
      ['a lone surrogate', '{"pickup":{"lat":"\\ud800","lng":0},"dropoff":{"lat":1,"lng":1}}', 400, 'VALIDATION_ERROR'],
      ['duplicate keys, last one wrong', `{"pickup":{"lat":1,"lng":0},"pickup":"x","dropoff":{"lat":1,"lng":1}}`, 400, 'VALIDATION_ERROR'],
      ['20 000 nested arrays', '['.repeat(20_000) + ']'.repeat(20_000), 400, 'VALIDATION_ERROR'],
      ['5 000 nested objects in a latitude', `{"pickup":{"lat":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)},"lng":0},"dropoff":{"lat":1,"lng":1}}`, 400, 'VALIDATION_ERROR'],
      ['just over the body limit', JSON.stringify({ pickup, dropoff, pad: 'x'.repeat(64 * 1024) }), 413, 'BODY_TOO_LARGE'],
      ['1 MB', JSON.stringify({ pickup, dropoff, pad: 'x'.repeat(1024 * 1024) }), 413, 'BODY_TOO_LARGE'],
      ['deep nesting over the body limit', '['.repeat(70_000) + ']'.repeat(70_000), 413, 'BODY_TOO_LARGE'],
    ];
    for (const [label, payload, status, code] of raw)
      add({ name: `raw body: ${label}`, method: 'POST', url: '/v1/rides', auth: otherRider, headers: json, payload, status, code });
    const mediaTypes: [string, string, number, string][] = [
      ['text/plain', validRide, 400, 'VALIDATION_ERROR'],
      ['application/xml', '<ride/>', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['application/x-www-form-urlencoded', 'pickup=1&dropoff=2', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['multipart/form-data; boundary=x', '--x--', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['image/png', 'PNG', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ];
    for (const [type, payload, status, code] of mediaTypes)
      add({ name: `content-type ${type}`, method: 'POST', url: '/v1/rides', auth: otherRider, headers: { 'content-type': type }, payload, status, code });
    add({ name: 'Idempotency-Key too long', method: 'POST', url: '/v1/rides', auth: otherRider, headers: { 'idempotency-key': 'k'.repeat(200) }, payload: { pickup, dropoff }, status: 400, code: 'VALIDATION_ERROR', mentions: 'idempotency-key' });
    add({ name: 'Idempotency-Key empty', method: 'POST', url: '/v1/rides', auth: otherRider, headers: { 'idempotency-key': '' }, payload: { pickup, dropoff }, status: 400, code: 'VALIDATION_ERROR', mentions: 'idempotency-key' });
    add({ name: 'a second ride while one is in progress', method: 'POST', url: '/v1/rides', auth: rider, payload: { pickup, dropoff }, status: 409, code: 'RIDE_IN_PROGRESS' });
    add({ name: 'a driver requesting a ride', method: 'POST', url: '/v1/rides', auth: driverB, payload: { pickup, dropoff }, status: 403, code: 'FORBIDDEN' });

    // 3. Locations (driver B: anything that slipped through would append a point).
    const badPoints: [string, Json, string][] = [
      ['lat 91', { ...point, lat: 91 }, 'body.lat'],
      ['lng -181', { ...point, lng: -181 }, 'body.lng'],
      ['negative speed', { ...point, speed: -1 }, 'body.speed'],
      ['slightly negative speed', { ...point, speed: -0.0001 }, 'body.speed'],
      ['speed of a jet', { ...point, speed: 300 }, 'body.speed'],
      ['speed "NaN"', { ...point, speed: 'NaN' }, 'body.speed'],
      ['speed "fast"', { ...point, speed: 'fast' }, 'body.speed'],
      ['heading 361', { ...point, heading: 361 }, 'body.heading'],
      ['heading -1', { ...point, heading: -1 }, 'body.heading'],
      ['negative accuracy', { ...point, accuracy: -5 }, 'body.accuracy'],
      ['recordedAt -1', { ...point, recordedAt: -1 }, 'body.recordedAt'],
      ['recordedAt 1.5', { ...point, recordedAt: 1.5 }, 'body.recordedAt'],
      ['recordedAt "yesterday"', { ...point, recordedAt: 'yesterday' }, 'body.recordedAt'],
      ['recordedAt a leap second', { ...point, recordedAt: '2016-12-31T23:59:60Z' }, 'body.recordedAt'],
      ['recordedAt a date only', { ...point, recordedAt: '2024-01-01' }, 'body.recordedAt'],
      ['recordedAt 30 February', { ...point, recordedAt: '2026-02-30T10:00:00Z' }, 'body.recordedAt'],
      ['recordedAt 29 February of a common year', { ...point, recordedAt: '2025-02-29T10:00:00Z' }, 'body.recordedAt'],
      ['recordedAt 31 April', { ...point, recordedAt: '2026-04-31T10:00:00Z' }, 'body.recordedAt'],
      ['recordedAt day 0', { ...point, recordedAt: '2026-06-00T10:00:00Z' }, 'body.recordedAt'],
      ['recordedAt 24:00', { ...point, recordedAt: '2026-01-01T24:00:00Z' }, 'body.recordedAt'],
      ['recordedAt an offset of +25:00', { ...point, recordedAt: '2026-01-01T10:00:00+25:00' }, 'body.recordedAt'],
      ['recordedAt empty', { ...point, recordedAt: '' }, 'body.recordedAt'],
      ['recordedAt true', { ...point, recordedAt: true }, 'body.recordedAt'],
      ['recordedAt null', { ...point, recordedAt: null }, 'body.recordedAt'],
      ['recordedAt a numeric string', { ...point, recordedAt: String(point.recordedAt) }, 'body.recordedAt'],
      ['recordedAt $gt', { ...point, recordedAt: { $gt: 0 } }, 'body.recordedAt'],
      ['recordedAt SQL', { ...point, recordedAt: "' OR 1=1 --" }, 'body.recordedAt'],
      ['no recordedAt', { lat: 1, lng: 1 }, 'recordedAt'],
      ['lat as a string', { ...point, lat: '38.72' }, 'body.lat'],
      ['lat null', { ...point, lat: null }, 'body.lat'],
      ['an extra field', { ...point, driverId: ids.driverA!.userId }, 'body.driverId'],
      ['a batch of 101', { points: Array.from({ length: 101 }, (_, i) => ({ ...point, recordedAt: point.recordedAt - i })) }, 'body.points'],
      ['an empty batch', { points: [] }, 'body.points'],
      ['a batch that is null', { points: null }, 'body.points'],
      ['a batch that is an object', { points: { 0: point } }, 'body.points'],
      ['a batch with one bad point among 50', { points: [...Array.from({ length: 49 }, (_, i) => ({ ...point, recordedAt: point.recordedAt - i - 1 })), { ...point, speed: -3 }] }, 'body.points.49.speed'],
      ['a batch with an extra field', { points: [point], driverId: ids.driverA!.userId }, 'body.driverId'],
      ['a batch of arrays', { points: [[1, 2]] }, 'body.points.0'],
    ];
    for (const [label, payload, mentions] of badPoints)
      add({ name: `location: ${label}`, method: 'POST', url: '/v1/drivers/me/locations', auth: driverB, payload, status: 400, code: 'VALIDATION_ERROR', mentions });
    add({ name: 'location from a rider', method: 'POST', url: '/v1/drivers/me/locations', auth: rider, payload: point, status: 403, code: 'FORBIDDEN' });
    add({ name: 'location from an admin', method: 'POST', url: '/v1/drivers/me/locations', auth: admin, payload: point, status: 403, code: 'FORBIDDEN' });

    // 4. Availability, rating, cancel, users, login, nearby.
    for (const [label, value] of [['"true"', 'true'], ['1', 1], ['null', null], ['$ne', { $ne: false }], ['an array', [true]]] as const)
      add({ name: `availability ${label}`, method: 'PUT', url: '/v1/drivers/me/availability', auth: driverB, payload: { available: value }, status: 400, code: 'VALIDATION_ERROR', mentions: 'body.available' });
    add({ name: 'availability with no field', method: 'PUT', url: '/v1/drivers/me/availability', auth: driverB, payload: {}, status: 400, code: 'VALIDATION_ERROR', mentions: 'available' });
    add({ name: 'availability with an extra field', method: 'PUT', url: '/v1/drivers/me/availability', auth: driverB, payload: { available: true, driverId: ids.driverA!.userId }, status: 400, code: 'VALIDATION_ERROR', mentions: 'body.driverId' });
    add({ name: 'availability from a rider', method: 'PUT', url: '/v1/drivers/me/availability', auth: rider, payload: { available: true }, status: 403, code: 'FORBIDDEN' });

    for (const [label, stars] of [['0', 0], ['6', 6], ['4.5', 4.5], ['"5"', '5'], ['null', null], ['$gt', { $gt: 0 }], ['-1', -1]] as const)
      add({ name: `rating stars ${label}`, method: 'POST', url: `/v1/rides/${R}/rating`, auth: rider, payload: { stars }, status: 400, code: 'VALIDATION_ERROR', mentions: 'body.stars' });
    add({ name: 'rating with a 2 000-character comment', method: 'POST', url: `/v1/rides/${R}/rating`, auth: rider, payload: { stars: 5, comment: 'x'.repeat(2_000) }, status: 400, code: 'VALIDATION_ERROR', mentions: 'body.comment' });
    add({ name: 'rating with an object comment', method: 'POST', url: `/v1/rides/${R}/rating`, auth: rider, payload: { stars: 5, comment: { $where: '1' } }, status: 400, code: 'VALIDATION_ERROR', mentions: 'body.comment' });
    add({ name: 'rating a ride not completed', method: 'POST', url: `/v1/rides/${R}/rating`, auth: rider, payload: { stars: 5 }, status: 409, code: 'INVALID_TRANSITION' });

    for (const [label, payload, mentions] of [
      ['reason a number', { reason: 5 }, 'body.reason'],
      ['reason $ne', { reason: { $ne: 1 } }, 'body.reason'],
      ['reason 600 characters', { reason: 'x'.repeat(600) }, 'body.reason'],
      ['an unknown field', { by: 'admin' }, 'body.by'],
      ['an array', [1], 'body'],
    ] as const)
      add({ name: `cancel: ${label}`, method: 'POST', url: `/v1/rides/${R}/cancel`, auth: rider, payload, status: 400, code: 'VALIDATION_ERROR', mentions });

    const user = (over: Json) => ({ username: `u-${Math.random().toString(36).slice(2, 8)}`, password: 'password-123', role: 'rider', ...over });
    for (const [label, payload, mentions] of [
      ['role superadmin', user({ role: 'superadmin' }), 'body.role'],
      ['role $in', user({ role: { $in: ['admin'] } }), 'body.role'],
      ['username with spaces', user({ username: 'a b c' }), 'body.username'],
      ['username SQL', user({ username: "' OR 1=1 --" }), 'body.username'],
      ['username NoSQL', user({ username: { $gt: '' } }), 'body.username'],
      ['username unicode', user({ username: 'ädmin' }), 'body.username'],
      ['username with a NUL', user({ username: 'adm\u0000in' }), 'body.username'],
      ['username with a newline', user({ username: 'admin\nrole=admin' }), 'body.username'],
      ['username too long', user({ username: 'a'.repeat(65) }), 'body.username'],
      ['password too short', user({ password: 'x' }), 'body.password'],
      ['password an object', user({ password: { $ne: '' } }), 'body.password'],
      ['no role', { username: 'nobody-here', password: 'password-123' }, 'role'],
      ['an extra field', user({ userId: 'a_1' }), 'body.userId'],
    ] as const)
      add({ name: `create user: ${label}`, method: 'POST', url: '/v1/users', auth: admin, payload, status: 400, code: 'VALIDATION_ERROR', mentions });
    add({ name: 'create user: taken', method: 'POST', url: '/v1/users', auth: admin, payload: user({ username: ADMIN.username }), status: 409, code: 'USERNAME_TAKEN' });
    add({ name: 'create user as a rider', method: 'POST', url: '/v1/users', auth: rider, payload: user({ role: 'admin' }), status: 403, code: 'FORBIDDEN' });

    for (const [label, payload, status, code] of [
      ['NoSQL $gt', { username: { $gt: '' }, password: { $gt: '' } }, 400, 'VALIDATION_ERROR'],
      ['NoSQL $ne password', { username: ADMIN.username, password: { $ne: null } }, 400, 'VALIDATION_ERROR'],
      ['arrays', { username: [ADMIN.username], password: [ADMIN.password] }, 400, 'VALIDATION_ERROR'],
      ['no password', { username: ADMIN.username }, 400, 'VALIDATION_ERROR'],
      ['an extra field', { username: ADMIN.username, password: ADMIN.password, role: 'admin' }, 400, 'VALIDATION_ERROR'],
      ['SQL', { username: "' OR 1=1 --", password: "' OR 1=1 --" }, 401, 'INVALID_CREDENTIALS'],
      ['SQL in the password', { username: ADMIN.username, password: "' OR '1'='1" }, 401, 'INVALID_CREDENTIALS'],
      ['unicode', { username: 'ädmin🚕', password: 'pässwörd' }, 401, 'INVALID_CREDENTIALS'],
      ['control characters', { username: 'admin\u0000\u0007', password: '\u001b[2J' }, 401, 'INVALID_CREDENTIALS'],
      ['a wrong password', { username: ADMIN.username, password: 'not-the-password' }, 401, 'INVALID_CREDENTIALS'],
      ['username too long', { username: 'a'.repeat(65), password: 'x' }, 400, 'VALIDATION_ERROR'],
    ] as const)
      add({ name: `login: ${label}`, method: 'POST', url: '/v1/auth/login', payload, status, code });

    for (const query of [
      'lat=91&lng=0', 'lat=-91&lng=0', 'lat=0&lng=181', 'lat=NaN&lng=0', 'lat=Infinity&lng=0', 'lat=-Infinity&lng=0', 'lat=1e400&lng=0',
      'lat[$gt]=&lng=0', 'lng=0', 'lat=abc&lng=0', 'lat=1&lat=2&lng=0', 'lat=0&lng=0&radius=-1', 'lat=0&lng=0&radius=0',
      'lat=0&lng=0&radius=1e9', 'lat=0&lng=0&radius=Infinity', 'lat=0&lng=0&limit=0', 'lat=0&lng=0&limit=101', 'lat=0&lng=0&limit=1.5',
      "lat=' OR 1=1 --&lng=0", 'lat=%00&lng=0',
    ])
      add({ name: `nearby ?${query}`, method: 'GET', url: `/v1/drivers/nearby?${query}`, auth: rider, status: 400, code: 'VALIDATION_ERROR', mentions: 'querystring' });
    add({ name: 'nearby as a driver', method: 'GET', url: '/v1/drivers/nearby?lat=0&lng=0', auth: driverB, status: 403, code: 'FORBIDDEN' });

    // 5. Other users' rides: not found, nothing about the ride leaks.
    for (const [who, auth, path, method, status, code] of [
      ['other rider', otherRider, '', 'GET', 404, 'NOT_FOUND'],
      ['other rider', otherRider, '/location', 'GET', 404, 'NOT_FOUND'],
      ['other rider', otherRider, '/track', 'GET', 404, 'NOT_FOUND'],
      ['other rider', otherRider, '/cancel', 'POST', 404, 'NOT_FOUND'],
      ['other rider', otherRider, '/rating', 'POST', 404, 'NOT_FOUND'],
      ['other rider', otherRider, '/share', 'POST', 404, 'NOT_FOUND'],
      ['other driver', driverB, '', 'GET', 404, 'NOT_FOUND'],
      ['other driver', driverB, '/location', 'GET', 404, 'NOT_FOUND'],
      ['other driver', driverB, '/cancel', 'POST', 404, 'NOT_FOUND'],
      ['other driver', driverB, '/accept', 'POST', 404, 'NOT_FOUND'],
      ['other driver', driverB, '/decline', 'POST', 404, 'NOT_FOUND'],
      ['other driver', driverB, '/arrive', 'POST', 404, 'NOT_FOUND'],
      ['other driver', driverB, '/start', 'POST', 404, 'NOT_FOUND'],
      ['other driver', driverB, '/complete', 'POST', 404, 'NOT_FOUND'],
    ] as const)
      add({ name: `${who}: ${method} ride${path}`, method, url: `/v1/rides/${R}${path}`, auth, payload: path === '/rating' ? { stars: 5 } : method === 'POST' ? {} : undefined, status, code });
    for (const [label, id, status, code] of [
      ['unknown', 'r_doesnotexist', 404, 'NOT_FOUND'],
      ['unicode', encodeURIComponent('r_🚕'), 400, 'VALIDATION_ERROR'],
      ['NoSQL', encodeURIComponent('{"$gt":""}'), 400, 'VALIDATION_ERROR'],
      ['SQL', encodeURIComponent("r_1' OR 1=1 --"), 400, 'VALIDATION_ERROR'],
      ['a NUL', '%00', 400, 'VALIDATION_ERROR'],
      ['a newline', '%0Ar_1', 400, 'VALIDATION_ERROR'],
      ['dot-dot', '..%2F..%2Fetc%2Fpasswd', 400, 'VALIDATION_ERROR'],
      ['65 characters', 'r'.repeat(65), 400, 'VALIDATION_ERROR'],
      ['200 characters', 'r'.repeat(200), 414, 'URL_TOO_LONG'],
      ['broken percent-encoding', '%zz', 400, 'BAD_URL'],
      ['a truncated UTF-8 escape', '%E0%A4%A', 400, 'BAD_URL'],
    ] as const)
      add({ name: `ride id ${label}`, method: 'GET', url: `/v1/rides/${id}`, auth: rider, status, code });

    // 6. Routes that do not exist.
    for (const [method, url] of [
      ['GET', '/v1/admin'], ['GET', '/v1/rides'], ['DELETE', `/v1/rides/${R}`], ['PATCH', `/v1/rides/${R}`], ['PUT', '/v1/rides'],
      ['POST', `/v1/rides/${R}/teleport`], ['GET', '/.env'], ['GET', '/v1/users'], ['DELETE', '/v1/users'], ['POST', '/v2/rides'],
      ['GET', '/v1/drivers/me'], ['OPTIONS', '/v1/rides'], ['GET', '/%2e%2e/%2e%2e/etc/passwd'], ['GET', '/v1/rides/x/y/z'],
    ] as const)
      add({ name: `unknown route ${method} ${url}`, method, url, auth: rider, status: 404, code: 'ROUTE_NOT_FOUND' });

    return cases;
  }

  it('answers at least 200 bad requests with a 4xx in the error shape and appends nothing', async () => {
    const cases = httpCases();
    expect(cases.length).toBeGreaterThanOrEqual(200);
    const before = await counts();
    const failures: string[] = [];
    for (const c of cases) {
      const headers: Record<string, string> = { ...c.headers };
      if (c.auth !== undefined) headers.authorization = c.auth;
      const payload = c.payload === undefined ? undefined : typeof c.payload === 'string' ? c.payload : JSON.stringify(c.payload);
      if (payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
      const res = await service.app.inject({ method: c.method, url: c.url, headers, ...(payload !== undefined && { payload }) });
      tried.http++;
      const problem = shapeProblem(res.statusCode, res.headers['content-type'] as string | undefined, res.body, c);
      if (problem) failures.push(`${c.name}: ${problem}`);
      const now = await counts();
      if (JSON.stringify(now) !== JSON.stringify(before)) {
        failures.push(`${c.name}: appended ${JSON.stringify(before)} → ${JSON.stringify(now)}`);
        Object.assign(before, now);
      }
    }
    expect(failures).toEqual([]);
    // Still alive and serving.
    expect((await api.get('/healthz')).status).toBe(200);
    expect(await api.get(`/v1/rides/${rideId}`, ids.riderA!.token)).toMatchObject({ status: 200, body: { rideId, status: 'accepted' } });
  });

  /** An upgrade that must be refused: the HTTP status and body the server answered with. */
  function refusedUpgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string } | 'opened'> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.once('open', () => {
        ws.terminate();
        resolve('opened');
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      ws.once('error', (err) => {
        if (!/Unexpected server response/.test(err.message)) reject(err);
      });
    });
  }

  it('refuses socket upgrades with bad tokens, in the header or the query, with a 401 in the error shape', async () => {
    const failures: string[] = [];
    for (const [label, auth] of badAuthorizations()) {
      // (The ws client itself refuses to put characters outside visible ASCII in a header: query only, then.)
      const sendable = auth === undefined || /^[\x20-\x7e]*$/.test(auth);
      const viaHeader = sendable ? await refusedUpgrade(wsBase, auth === undefined ? {} : { authorization: auth }) : null;
      if (viaHeader) tried.upgrades++;
      const token = auth?.startsWith('Bearer ') ? auth.slice(7) : auth;
      const viaQuery = token ? await refusedUpgrade(`${wsBase}?access_token=${encodeURIComponent(token)}`, {}) : null;
      if (viaQuery) tried.upgrades++;
      for (const [how, answer] of [['header', viaHeader], ['query', viaQuery]] as const) {
        if (answer === null) continue;
        if (answer === 'opened') {
          failures.push(`${label} via ${how}: the socket opened`);
          continue;
        }
        const c: HttpCase = { name: label, method: 'GET', url: '/v1/stream', status: 401, code: 'UNAUTHORIZED' };
        const problem = shapeProblem(answer.status, 'application/json', answer.body, c);
        if (problem) failures.push(`${label} via ${how}: ${problem}`);
      }
    }
    expect(failures).toEqual([]);
  });

  /** A socket that records what it receives, and sends a message and waits for its answer. */
  async function open(token: string) {
    const ws = new WebSocket(wsBase, { headers: { authorization: `Bearer ${token}` } });
    const received: Json[] = [];
    ws.on('message', (data) => received.push(JSON.parse(data.toString()) as Json));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return {
      ws,
      received,
      /** Sends and returns the first message that arrives after it (errors and replies are immediate). */
      async exchange(data: string | Buffer, binary = false): Promise<Json> {
        const from = received.length;
        ws.send(data, { binary });
        tried.messages++;
        await waitFor(() => received.length > from || ws.readyState !== WebSocket.OPEN, 'an answer', 5_000, 2);
        if (ws.readyState !== WebSocket.OPEN) throw new Error(`socket closed after ${String(data).slice(0, 80)}`);
        return received[from]!;
      },
    };
  }

  it('answers bad socket messages with {type:"error", code}, keeps the socket usable and appends nothing', async () => {
    const before = await counts();
    const R = rideId;
    const now = Date.now();
    const point = { type: 'location', lat: 38.72, lng: -9.14, recordedAt: now - 500 };
    const generic: [string, string | Buffer, string[], boolean?][] = [
      ['invalid JSON', '{', ['INVALID_JSON']],
      ['literal NaN', '{"type":"location","lat":NaN,"lng":0,"recordedAt":1}', ['INVALID_JSON']],
      ['literal Infinity', '{"type":"location","lat":Infinity,"lng":0,"recordedAt":1}', ['INVALID_JSON']],
      ['single quotes', "{'type':'ping'}", ['INVALID_JSON']],
      ['an empty text frame', '', ['INVALID_JSON']],
      ['a NUL', '\u0000', ['INVALID_JSON']],
      ['plain text', 'hello', ['INVALID_JSON']],
      ['a binary frame', Buffer.from('{"type":"ping"}'), ['INVALID_JSON'], true],
      ['random bytes', Buffer.from([0xff, 0xfe, 0x00, 0x01]), ['INVALID_JSON'], true],
      ['null', 'null', ['VALIDATION_ERROR']],
      ['an array', '[{"type":"ping"}]', ['VALIDATION_ERROR']],
      ['a number', '42', ['VALIDATION_ERROR']],
      ['a string', '"ping"', ['VALIDATION_ERROR']],
      ['7 000 nested arrays', '['.repeat(7_000) + ']'.repeat(7_000), ['VALIDATION_ERROR']],
      ['no type', '{"rideId":"r_1"}', ['UNKNOWN_TYPE', 'VALIDATION_ERROR']],
      ['an unknown type', '{"type":"accept","rideId":"r_1"}', ['UNKNOWN_TYPE', 'VALIDATION_ERROR']],
      ['type $gt', '{"type":{"$gt":""}}', ['UNKNOWN_TYPE', 'VALIDATION_ERROR']],
      ['type __proto__', '{"type":"__proto__"}', ['UNKNOWN_TYPE', 'VALIDATION_ERROR']],
      ['type constructor', '{"type":"constructor"}', ['UNKNOWN_TYPE', 'VALIDATION_ERROR']],
      ['type toString', '{"type":"toString"}', ['UNKNOWN_TYPE', 'VALIDATION_ERROR']],
      ['subscribe without a ride', '{"type":"subscribe"}', ['VALIDATION_ERROR']],
      ['subscribe to $gt', '{"type":"subscribe","rideId":{"$gt":""}}', ['VALIDATION_ERROR']],
      ['subscribe to $ne', '{"type":"subscribe","rideId":{"$ne":null}}', ['VALIDATION_ERROR']],
      ['subscribe to SQL', JSON.stringify({ type: 'subscribe', rideId: "r_1' OR 1=1 --" }), ['VALIDATION_ERROR']],
      ['subscribe to unicode', JSON.stringify({ type: 'subscribe', rideId: 'r_🚕' }), ['VALIDATION_ERROR']],
      ['subscribe to control characters', JSON.stringify({ type: 'subscribe', rideId: 'r_\u0000\u001b' }), ['VALIDATION_ERROR']],
      ['subscribe to a 65-character id', JSON.stringify({ type: 'subscribe', rideId: 'r'.repeat(65) }), ['VALIDATION_ERROR']],
      ['subscribe to a number', '{"type":"subscribe","rideId":42}', ['VALIDATION_ERROR']],
      ['subscribe after an object', JSON.stringify({ type: 'subscribe', rideId: R, after: { $gt: '' } }), ['VALIDATION_ERROR']],
      ['subscribe after 200 characters', JSON.stringify({ type: 'subscribe', rideId: R, after: 'x'.repeat(200) }), ['VALIDATION_ERROR']],
      ['subscribe fleet "true"', '{"type":"subscribe","fleet":"true"}', ['VALIDATION_ERROR']],
      ['unsubscribe without a ride', '{"type":"unsubscribe"}', ['VALIDATION_ERROR']],
      ['unsubscribe from $gt', '{"type":"unsubscribe","rideId":{"$gt":""}}', ['VALIDATION_ERROR']],
      ['subscribe to an unknown ride', '{"type":"subscribe","rideId":"r_doesnotexist"}', ['NOT_FOUND']],
    ];
    const locations: [string, Json, string[]][] = [
      ['lat 91', { ...point, lat: 91 }, ['VALIDATION_ERROR']],
      ['lng -181', { ...point, lng: -181 }, ['VALIDATION_ERROR']],
      ['negative speed', { ...point, speed: -1 }, ['VALIDATION_ERROR']],
      ['heading 400', { ...point, heading: 400 }, ['VALIDATION_ERROR']],
      ['negative accuracy', { ...point, accuracy: -1 }, ['VALIDATION_ERROR']],
      ['lat as a string', { ...point, lat: '38.72' }, ['VALIDATION_ERROR']],
      ['lat "NaN"', { ...point, lat: 'NaN' }, ['VALIDATION_ERROR']],
      ['lat "Infinity"', { ...point, lat: 'Infinity' }, ['VALIDATION_ERROR']],
      ['lat null', { ...point, lat: null }, ['VALIDATION_ERROR']],
      ['lat $gt', { ...point, lat: { $gt: 0 } }, ['VALIDATION_ERROR']],
      ['no recordedAt', { type: 'location', lat: 1, lng: 1 }, ['VALIDATION_ERROR']],
      ['recordedAt a leap second', { ...point, recordedAt: '2016-12-31T23:59:60Z' }, ['VALIDATION_ERROR']],
      ['recordedAt 30 February', { ...point, recordedAt: '2026-02-30T10:00:00Z' }, ['VALIDATION_ERROR']],
      ['recordedAt SQL', { ...point, recordedAt: "' OR 1=1 --" }, ['VALIDATION_ERROR']],
      ['recordedAt negative', { ...point, recordedAt: -5 }, ['VALIDATION_ERROR']],
      ['an extra field', { ...point, driverId: ids.driverA!.userId }, ['VALIDATION_ERROR']],
      ['a batch (not allowed over the socket)', { type: 'location', points: [point] }, ['VALIDATION_ERROR']],
    ];

    const failures: string[] = [];
    const sockets = {
      otherRider: await open(ids.riderB!.token),
      otherDriver: await open(ids.driverB!.token),
      rider: await open(ids.riderA!.token),
      admin: await open(ids.admin!.token),
    };
    const check = async (who: keyof typeof sockets, label: string, data: string | Buffer, codes: string[], binary = false) => {
      const answer = await sockets[who].exchange(data, binary);
      if (answer.type !== 'error' || !codes.includes(answer.code) || typeof answer.message !== 'string')
        failures.push(`${who}: ${label}: got ${JSON.stringify(answer).slice(0, 200)}, expected error ${codes.join('|')}`);
    };
    for (const [label, data, codes, binary] of generic) await check('otherRider', label, data, codes, binary);
    for (const [label, data, codes, binary] of generic.slice(0, 12)) await check('otherDriver', label, data, codes, binary);
    for (const [label, m, codes] of locations) await check('otherDriver', `location: ${label}`, JSON.stringify(m), codes);
    // Not theirs: other users' rides, the fleet, driving as a rider or an operator.
    await check('otherRider', "subscribe to rider A's ride", JSON.stringify({ type: 'subscribe', rideId: R }), ['NOT_FOUND']);
    await check('otherRider', "replay rider A's ride", JSON.stringify({ type: 'subscribe', rideId: R, after: 'rides:0-0' }), ['NOT_FOUND']);
    await check('otherDriver', "subscribe to driver A's ride", JSON.stringify({ type: 'subscribe', rideId: R }), ['NOT_FOUND']);
    await check('otherRider', 'watch the fleet', '{"type":"subscribe","fleet":true}', ['FORBIDDEN']);
    await check('otherDriver', 'watch the fleet', '{"type":"subscribe","fleet":true}', ['FORBIDDEN']);
    await check('rider', 'send a location as a rider', JSON.stringify(point), ['FORBIDDEN']);
    await check('admin', 'send a location as an admin', JSON.stringify(point), ['FORBIDDEN']);
    for (const [label, data, codes, binary] of generic.slice(0, 8)) await check('rider', label, data, codes, binary);

    expect(failures).toEqual([]);
    // Every socket is still open and answers; nothing was appended; prototype pollution went nowhere.
    for (const s of Object.values(sockets)) {
      expect(s.ws.readyState).toBe(WebSocket.OPEN);
      expect(await s.exchange('{"type":"ping"}')).toEqual({ type: 'pong' });
    }
    expect(await sockets.rider.exchange('{"type":"ping","__proto__":{"polluted":true}}')).toEqual({ type: 'pong' });
    expect(({} as Json).polluted).toBeUndefined();
    expect(await counts()).toEqual(before);
    // And the rightful owner can still subscribe.
    expect(await sockets.rider.exchange(JSON.stringify({ type: 'subscribe', rideId: R }))).toEqual({ type: 'subscribed', rideId: R });
    for (const s of Object.values(sockets)) s.ws.close();
  });

  it.each([
    ['an oversized frame', 1009, JSON.stringify({ type: 'location', lat: 1, lng: 1, recordedAt: Date.now(), pad: 'x'.repeat(32 * 1024) })],
    ['a text frame that is not UTF-8', 1007, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])],
  ] as const)('closes a socket that sends %s (%i, as RFC 6455 says), appends nothing, and the next socket works', async (_label, code, data) => {
    const before = await counts();
    const s = await open(ids.driverB!.token);
    const closed = new Promise<number>((resolve) => s.ws.once('close', (c) => resolve(c)));
    s.ws.send(data, { binary: false });
    tried.messages++;
    expect(await closed).toBe(code);
    const again = await open(ids.driverB!.token);
    expect(await again.exchange('{"type":"ping"}')).toEqual({ type: 'pong' });
    again.ws.close();
    expect(await counts()).toEqual(before);
    expect((await api.get('/healthz')).status).toBe(200);
  });

  /**
   * Forged tracks (issue 13): points meant to stretch a trip. They are well-formed, so the answer is
   * a 202 that names each rejection; what matters is that none of them is appended.
   */
  it('refuses forged track points (zig-zags, backwards batches, second positions, teleports) over HTTP and the socket, appending nothing', async () => {
    const driverA = ids.driverA!;
    const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
    const at = (east: number, north: number, recordedAt: number) => ({
      lat: pickup.lat + north / M_PER_DEG,
      lng: pickup.lng + east / (M_PER_DEG * Math.cos((pickup.lat * Math.PI) / 180)),
      recordedAt,
    });
    // Driver A's real fixes: parked at the pickup, one a second, ending a moment ago.
    const end = Date.now() - 2_000;
    const real = Array.from({ length: 21 }, (_, i) => at(0, 0, end - (20 - i) * 1_000));
    expect((await api.post('/v1/drivers/me/locations', driverA.token, { points: real })).status).toBe(202);
    // (Appended before the answer: the count below includes them.)
    const before = await counts();
    const refused = new Set(['IMPOSSIBLE_SPEED', 'IMPLAUSIBLE_TRACK', 'TOO_FREQUENT', 'CONFLICTING_POINT', 'DUPLICATE_POINT', 'FUTURE_POINT']);
    const zigzag = real.slice(0, -1).map((p, i) => at(i % 2 ? 150 : -150, 0, p.recordedAt + 500));
    const forged: [string, Json[]][] = [
      ['late points zig-zagging 300 m apart', zigzag],
      ['the same zig-zag sorted backwards', [...zigzag].reverse().map((p) => ({ ...p, recordedAt: p.recordedAt - 200 }))],
      ['other positions for the same instants', real.map((p, i) => at(i % 2 ? 200 : -200, 0, p.recordedAt))],
      ['the same instants twice in one batch, 200 m apart', real.slice(0, 5).flatMap((p) => [at(0, 200, p.recordedAt), at(0, -200, p.recordedAt)])],
      ['teleports, live and late', [at(5_000, 0, end - 10_500), at(-5_000, 0, end + 1_000), at(0, 5_000, Date.now())]],
      ['points exactly at the first and last real instants, 300 m away', [at(300, 0, real[0]!.recordedAt), at(-300, 0, end)]],
    ];
    const failures: string[] = [];
    for (const [label, points] of forged) {
      const res = await api.post('/v1/drivers/me/locations', driverA.token, { points });
      tried.http++;
      const codes = ((res.body?.rejections ?? []) as { code: string }[]).map((r) => r.code);
      if (res.status !== 202 || res.body.accepted !== 0 || codes.length !== points.length || !codes.every((c) => refused.has(c)))
        failures.push(`${label}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    }
    const s = await open(driverA.token);
    for (const p of [at(5_000, 0, end - 5_500), at(300, 0, end - 3_000), at(-150, 0, end - 7_500)]) {
      const answer = await s.exchange(JSON.stringify({ type: 'location', ...p }));
      if (answer.type !== 'location.ack' || answer.accepted !== 0) failures.push(`socket: ${JSON.stringify(answer)}`);
    }
    s.ws.close();
    expect(failures).toEqual([]);
    expect(await counts()).toEqual(before);
  });

  it('answers a driver who sends more points per second than allowed with 429 TOO_MANY_POINTS, appending nothing', async () => {
    const before = await counts();
    const now = Date.now();
    // Points that are refused anyway (from the future), so that what drains the bucket appends nothing either.
    const batch = { points: Array.from({ length: 100 }, (_, i) => ({ ...pickup, recordedAt: now + 60_000 + i * 1_000 })) };
    let res = await api.post('/v1/drivers/me/locations', ids.driverB!.token, batch);
    for (let i = 0; i < 5 && res.status === 202; i++) res = await api.post('/v1/drivers/me/locations', ids.driverB!.token, batch);
    tried.http++;
    const c: HttpCase = { name: 'too many points', method: 'POST', url: '/v1/drivers/me/locations', status: 429, code: 'TOO_MANY_POINTS' };
    expect(shapeProblem(res.status, res.headers['content-type'] as string | undefined, JSON.stringify(res.body), c)).toBeNull();
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(await counts()).toEqual(before);
  });
});
