import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN, client, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';

/**
 * Every route × every caller, against the expected status. Rides are owned by "rider" and offered to
 * or assigned to "driver"; "other rider" and "other driver" are strangers to them; "share" holds the
 * read-only share token of the ride. A cell that should succeed on a route that changes the ride runs
 * on a fresh ride of the same state, so every cell sees the state its row names; a refused cell must
 * leave the ride's history as it was.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const CALLERS = ['none', 'rider', 'otherRider', 'driver', 'otherDriver', 'admin', 'service', 'share'] as const;
type Caller = (typeof CALLERS)[number];
type State = 'offered' | 'accepted' | 'in_progress' | 'completed';

interface Row {
  readonly route: string;
  readonly state: State;
  /** Whether success changes the ride (then each successful cell gets a fresh ride). */
  readonly mutates: boolean;
  readonly expected: readonly number[];
}

const row = (route: string, state: State, expected: number[], mutates = false): Row => ({ route, state, mutates, expected });

/* eslint-disable prettier/prettier */
//                                                        none rider oRider driver oDriver admin service share
const ROWS: Row[] = [
  row('POST /v1/auth/login',                  'accepted', [200, 200, 200, 200, 200, 200, 200, 200]),
  row('POST /v1/auth/refresh',                'accepted', [401, 200, 200, 200, 200, 200, 200, 403]),
  row('POST /v1/users',                       'accepted', [401, 403, 403, 403, 403, 201, 403, 403]),
  row('GET /healthz',                         'accepted', [200, 200, 200, 200, 200, 200, 200, 200]),
  row('GET /readyz',                          'accepted', [200, 200, 200, 200, 200, 200, 200, 200]),
  row('GET /metrics',                         'accepted', [200, 200, 200, 200, 200, 200, 200, 200]),
  row('POST /v1/rides',                       'accepted', [401, 409, 202, 403, 403, 403, 403, 403]),
  row('GET /v1/rides/:rideId',                'accepted', [401, 200, 404, 200, 404, 200, 200, 403]),
  row('GET /v1/rides/:rideId/location',       'accepted', [401, 200, 404, 200, 404, 200, 200, 403]),
  row('GET /v1/rides/:rideId/track',          'accepted', [401, 200, 404, 200, 404, 200, 200, 403]),
  row('POST /v1/rides/:rideId/share',         'accepted', [401, 201, 404, 403, 403, 403, 403, 403]),
  row('POST /v1/rides/:rideId/cancel',        'accepted', [401, 200, 404, 200, 404, 200, 403, 403], true),
  row('POST /v1/rides/:rideId/rating',        'accepted', [401, 409, 404, 403, 403, 403, 403, 403], true),
  row('POST /v1/rides/:rideId/accept',        'accepted', [401, 403, 403, 409, 404, 409, 403, 403], true),
  row('POST /v1/rides/:rideId/decline',       'accepted', [401, 403, 403, 409, 404, 409, 403, 403], true),
  row('POST /v1/rides/:rideId/arrive',        'accepted', [401, 403, 403, 200, 404, 200, 403, 403], true),
  row('POST /v1/rides/:rideId/start',         'accepted', [401, 403, 403, 200, 404, 200, 403, 403], true),
  row('POST /v1/rides/:rideId/complete',      'accepted', [401, 403, 403, 409, 404, 409, 403, 403], true),
  row('PUT /v1/drivers/me/availability',      'accepted', [401, 403, 403, 200, 200, 403, 403, 403]),
  row('POST /v1/drivers/me/locations',        'accepted', [401, 403, 403, 202, 202, 403, 403, 403]),
  row('GET /v1/drivers/nearby',               'accepted', [401, 200, 200, 403, 403, 200, 200, 403]),
  // An offer: the offered driver sees the ride and may accept or decline it, but may not cancel it.
  row('GET /v1/rides/:rideId',                'offered',  [401, 200, 404, 200, 404, 200, 200, 403]),
  row('POST /v1/rides/:rideId/accept',        'offered',  [401, 403, 403, 200, 404, 409, 403, 403], true),
  row('POST /v1/rides/:rideId/decline',       'offered',  [401, 403, 403, 200, 404, 409, 403, 403], true),
  row('POST /v1/rides/:rideId/cancel',        'offered',  [401, 200, 404, 403, 404, 200, 403, 403], true),
  // On the way.
  row('POST /v1/rides/:rideId/complete',      'in_progress', [401, 403, 403, 200, 404, 200, 403, 403], true),
  row('POST /v1/rides/:rideId/start',         'in_progress', [401, 403, 403, 409, 404, 409, 403, 403], true),
  row('POST /v1/rides/:rideId/arrive',        'in_progress', [401, 403, 403, 409, 404, 409, 403, 403], true),
  // Done: only its rider rates it, once; nobody cancels or shares it any more.
  row('POST /v1/rides/:rideId/rating',        'completed', [401, 201, 404, 403, 403, 403, 403, 403], true),
  row('POST /v1/rides/:rideId/cancel',        'completed', [401, 409, 404, 409, 404, 409, 403, 403], true),
  row('POST /v1/rides/:rideId/share',         'completed', [401, 409, 404, 403, 403, 403, 403, 403]),
  row('GET /v1/rides/:rideId',                'completed', [401, 200, 404, 200, 404, 200, 200, 403]),
];

/** Over the live stream: the upgrade, and what each caller gets for each message about the ride. */
//                                      none   rider         oRider       driver        oDriver      admin          service         share
const STREAM_ROWS: [string, string[]][] = [
  ['upgrade',                          ['401', 'open',       'open',      'open',       'open',      'open',        'open',         'open']],
  ['subscribe to the ride',            ['-',   'subscribed', 'NOT_FOUND', 'subscribed', 'NOT_FOUND', 'subscribed',  'subscribed',   'subscribed']],
  ['subscribe to the fleet',           ['-',   'FORBIDDEN',  'FORBIDDEN', 'FORBIDDEN',  'FORBIDDEN', 'fleet.snapshot', 'fleet.snapshot', 'FORBIDDEN']],
  ['send a location',                  ['-',   'FORBIDDEN',  'FORBIDDEN', 'location.ack', 'location.ack', 'FORBIDDEN', 'FORBIDDEN',  'FORBIDDEN']],
];
/* eslint-enable prettier/prettier */

interface Fixture {
  readonly rideId: string;
  readonly rider: { token: string; userId: string };
  readonly driver: { token: string; userId: string };
  readonly pickup: { lat: number; lng: number };
  readonly dropoff: { lat: number; lng: number };
}

describe('authorization matrix', () => {
  let service: Awaited<ReturnType<typeof startService>>;
  let api: ReturnType<typeof client>;
  let adminToken: string;
  const others: Partial<Record<'otherRider' | 'otherDriver' | 'admin' | 'service', { token: string; userId: string }>> = {};
  const shared = {} as Record<State, Fixture & { share: string }>;
  const pool: Record<State, Fixture[]> = { offered: [], accepted: [], in_progress: [], completed: [] };
  let spot = 0;

  async function newUser(role: 'rider' | 'driver' | 'service') {
    const username = `${role}-${Math.random().toString(36).slice(2, 10)}`;
    const created = await api.post('/v1/users', adminToken, { username, password: 'password-123', role });
    if (created.status !== 201) throw new Error(`create ${role}: ${created.status}`);
    return api.login(username, 'password-123');
  }

  /** A ride of its own rider and driver, far (30 km) from every other, brought to `state`. */
  async function makeRide(state: State): Promise<Fixture> {
    const i = spot++;
    const pickup = { lat: 36 + i * 0.3, lng: -8 };
    const dropoff = { lat: pickup.lat + 0.01, lng: pickup.lng + 0.005 };
    const [rider, driver] = await Promise.all([newUser('rider'), newUser('driver')]);
    expect((await api.put('/v1/drivers/me/availability', driver.token, { available: true })).status).toBe(200);
    expect((await api.post('/v1/drivers/me/locations', driver.token, { ...pickup, recordedAt: Date.now() - 1_000 })).status).toBe(202);
    const requested = await api.post('/v1/rides', rider.token, { pickup, dropoff });
    expect(requested.status).toBe(202);
    const rideId: string = requested.body.rideId;
    const statusOf = async () => (await api.get(`/v1/rides/${rideId}`, rider.token)).body.status;
    await waitFor(async () => (await api.get(`/v1/rides/${rideId}`, driver.token)).body.status === 'offered', `ride ${i} to be offered`);
    if (state !== 'offered') {
      expect((await api.post(`/v1/rides/${rideId}/accept`, driver.token)).status).toBe(200);
      await waitFor(() => service.ctx.fleet.get(driver.userId)?.rideId === rideId, `driver ${i} to be assigned`);
    }
    if (state === 'in_progress' || state === 'completed') expect((await api.post(`/v1/rides/${rideId}/start`, driver.token)).status).toBe(200);
    if (state === 'completed') expect((await api.post(`/v1/rides/${rideId}/complete`, driver.token)).status).toBe(200);
    expect(await statusOf()).toBe(state);
    return { rideId, rider, driver, pickup, dropoff };
  }

  beforeAll(async () => {
    // Offers stay open for a minute, so an offered ride stays offered while its row runs.
    service = await startService({}, {}, { OFFER_TIMEOUT_MS: '60000' });
    api = client(service.app);
    adminToken = (await api.login(ADMIN.username, ADMIN.password)).token;
    others.admin = await api.login(ADMIN.username, ADMIN.password);
    [others.otherRider, others.otherDriver, others.service] = await Promise.all([newUser('rider'), newUser('driver'), newUser('service')]);

    // One shared ride per state, and a fresh one for every cell that changes its ride.
    const states: State[] = ['offered', 'accepted', 'in_progress', 'completed'];
    const fresh: State[] = ROWS.flatMap((r) => (r.mutates ? r.expected.filter((s) => s < 300).map(() => r.state) : []));
    const made = await Promise.all([...states, ...fresh].map((s) => makeRide(s)));
    states.forEach((s, i) => (shared[s] = { ...made[i]!, share: '' }));
    fresh.forEach((s, i) => pool[s].push(made[states.length + i]!));
    for (const s of states) {
      const f = shared[s];
      // A share token of the ride (a finished ride cannot be shared any more: use a live one's).
      const from = s === 'completed' ? shared.accepted : f;
      const share = await api.post(`/v1/rides/${from.rideId}/share`, from.rider.token);
      expect(share.status).toBe(201);
      shared[s] = { ...f, share: share.body.token };
    }
    // The location route needs a fix on the ride.
    const a = shared.accepted;
    expect((await api.post('/v1/drivers/me/locations', a.driver.token, { ...a.pickup, recordedAt: Date.now() - 500 })).status).toBe(202);
    await waitFor(async () => (await api.get(`/v1/rides/${a.rideId}/location`, a.rider.token)).status === 200, 'a location on the ride');
  }, 120_000);

  afterAll(() => service?.close());

  function tokenOf(caller: Caller, f: Fixture & { share?: string }): string | undefined {
    switch (caller) {
      case 'none':
        return undefined;
      case 'rider':
        return f.rider.token;
      case 'driver':
        return f.driver.token;
      case 'share':
        return f.share;
      default:
        return others[caller]!.token;
    }
  }

  function request(route: string, caller: Caller, f: Fixture) {
    const [method, template] = route.split(' ') as ['GET' | 'POST' | 'PUT', string];
    const url = template.replace(':rideId', f.rideId);
    const far = { lat: -30 - Math.random(), lng: 20 };
    const bodies: Record<string, unknown> = {
      '/v1/auth/login': { username: ADMIN.username, password: ADMIN.password },
      '/v1/users': { username: `m-${Math.random().toString(36).slice(2, 10)}`, password: 'password-123', role: 'rider' },
      '/v1/rides': { pickup: far, dropoff: { lat: far.lat + 0.01, lng: far.lng } },
      '/v1/drivers/me/availability': { available: true },
      '/v1/drivers/me/locations': { ...(caller === 'driver' ? f.pickup : { lat: 60, lng: 100 }), recordedAt: Date.now() - 200 },
    };
    const body = method === 'GET' ? undefined : template.endsWith('/rating') ? { stars: 4, comment: 'matrix' } : (bodies[template] ?? {});
    const query = template === '/v1/drivers/nearby' ? `?lat=${f.pickup.lat}&lng=${f.pickup.lng}` : '';
    return { method, url: url + query, body };
  }

  const title = (r: Row) => (r.route.includes(':rideId') ? `${r.route} on a${r.state === 'completed' ? '' : 'n'} ${r.state} ride` : r.route);
  it.each(ROWS.map((r) => [title(r), r] as const))(
    '%s',
    async (_name, r) => {
      const failures: string[] = [];
      for (const [i, caller] of CALLERS.entries()) {
        const expected = r.expected[i]!;
        const f = r.mutates && expected < 300 ? { ...pool[r.state].pop()!, share: shared[r.state].share } : shared[r.state];
        if (!f.rideId) throw new Error(`no fresh ${r.state} ride left for ${r.route}`);
        const history = (await service.ctx.log.readKey('rides', f.rideId)).length;
        const { method, url, body } = request(r.route, caller, f);
        const token = tokenOf(caller, f);
        const raw = await service.app.inject({
          method,
          url,
          headers: token ? { authorization: `Bearer ${token}` } : {},
          ...(body !== undefined && { payload: body as Json }),
        });
        const res = { status: raw.statusCode, body: (raw.headers['content-type']?.toString().startsWith('application/json') ? raw.json() : raw.body) as Json };
        const cell = `${caller}: ${res.status} ${res.status >= 400 ? res.body?.code : ''}`;
        if (res.status !== expected) failures.push(`${cell}, expected ${expected} (${JSON.stringify(res.body).slice(0, 160)})`);
        if (res.status >= 400) {
          expect(res.body, cell).toEqual({ statusCode: res.status, code: expect.any(String), error: expect.any(String), message: expect.any(String) });
          // A refusal changes nothing, and a "not found" says nothing about whose ride it is.
          if ((await service.ctx.log.readKey('rides', f.rideId)).length !== history) failures.push(`${cell}: the ride changed`);
          if (res.status === 404 && /[ud]_[\w-]{12}/.test(res.body.message.replace(f.rideId, '')))
            failures.push(`${cell}: the message names a user: ${res.body.message}`);
        }
      }
      expect(failures).toEqual([]);
    },
  );

  it.each(STREAM_ROWS)('over the stream: %s', async (what, expected) => {
    const f = shared.accepted;
    const base = `ws://127.0.0.1:${await port()}/v1/stream`;
    const failures: string[] = [];
    for (const [i, caller] of CALLERS.entries()) {
      const want = expected[i]!;
      if (want === '-') continue;
      const token = tokenOf(caller, f);
      const got = await streamOutcome(base, token, what, f);
      if (got !== want) failures.push(`${caller}: ${got}, expected ${want}`);
    }
    expect(failures).toEqual([]);
  });

  let listening: Promise<number> | undefined;
  function port(): Promise<number> {
    listening ??= service.app.listen({ port: 0, host: '127.0.0.1' }).then(() => (service.app.server.address() as AddressInfo).port);
    return listening;
  }

  /** Opens a socket as the caller and reports the upgrade's outcome, or the answer to one message. */
  async function streamOutcome(base: string, token: string | undefined, what: string, f: Fixture): Promise<string> {
    const ws = new WebSocket(base, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const received: Json[] = [];
    ws.on('message', (data) => received.push(JSON.parse(data.toString()) as Json));
    const opened = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
      ws.once('error', (err) => resolve(`error ${err.message}`));
    });
    try {
      if (what === 'upgrade' || opened !== 'open') return opened;
      const message =
        what === 'subscribe to the ride'
          ? { type: 'subscribe', rideId: f.rideId }
          : what === 'subscribe to the fleet'
            ? { type: 'subscribe', fleet: true }
            : { type: 'location', lat: -40, lng: 30, recordedAt: Date.now() - 100 };
      ws.send(JSON.stringify(message));
      const first = await waitFor(() => received[0], `an answer to ${what}`, 5_000, 5);
      return first.type === 'error' ? String(first.code) : String(first.type);
    } finally {
      ws.terminate();
    }
  }
});
