import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINAL_STATUSES } from '../domain/ride/index.ts';
import { decodeClaim, encodeClaim, IN_FLIGHT_MAX_MS } from '../src/app/ride-claims.ts';
import { client, startService } from './support/service.ts';
import { allTransports } from './support/transports.ts';

const pickup = { lat: 38.7223, lng: -9.1393 };
const dropoff = { lat: 38.7369, lng: -9.1427 };
const PARALLEL = 20;

/**
 * Racing requests from one rider, on every transport: one unfinished ride each, and an
 * Idempotency-Key answer never names a ride that does not exist (issue 13, item 2).
 */
describe.each(allTransports())('racing ride requests on $name', (transport) => {
  let service: Awaited<ReturnType<typeof startService>>;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    await transport.setUp();
    // No driver anywhere and a long match timeout: every ride stays unfinished while we count.
    service = await startService(transport.infra(), {}, { MATCH_TIMEOUT_MS: '600000' });
    api = client(service.app);
  });
  afterAll(async () => {
    await service?.close();
    await transport.tearDown();
  });

  /** The riders' RideRequested events in the log, by rider. */
  async function requestedBy(riderIds: readonly string[]) {
    const wanted = new Set(riderIds);
    const byRider = new Map<string, string[]>(riderIds.map((id) => [id, []]));
    for (const e of await service.ctx.log.read('rides')) {
      const riderId = (e.data as { riderId?: string }).riderId;
      if (e.type === 'RideRequested' && riderId && wanted.has(riderId)) byRider.get(riderId)!.push(e.metadata.key);
    }
    return byRider;
  }

  const burst = (token: string, headers?: Record<string, string>, body: object = { pickup, dropoff }) =>
    Promise.all(Array.from({ length: PARALLEL }, () => api.post('/v1/rides', token, body, headers)));

  it('15 riders × 20 parallel requests leave exactly one unfinished ride each; every 202 names a ride GET finds', async () => {
    const riders = await Promise.all(Array.from({ length: 15 }, () => api.user('rider')));
    const answers = await Promise.all(riders.map((r) => burst(r.token)));

    for (const [i, rider] of riders.entries()) {
      const mine = answers[i]!;
      const accepted = mine.filter((a) => a.status === 202);
      expect(accepted).toHaveLength(1);
      expect(mine.filter((a) => a.status !== 202).map((a) => [a.status, a.body.code])).toEqual(
        Array.from({ length: PARALLEL - 1 }, () => [409, 'RIDE_IN_PROGRESS']),
      );
      const seen = await api.get(`/v1/rides/${accepted[0]!.body.rideId}`, rider.token);
      expect(seen).toMatchObject({ status: 200, body: { riderId: rider.userId } });
      expect(FINAL_STATUSES.has(seen.body.status)).toBe(false);
    }
    const logged = await requestedBy(riders.map((r) => r.userId));
    for (const [i, rider] of riders.entries()) expect(logged.get(rider.userId)).toEqual([answers[i]!.find((a) => a.status === 202)!.body.rideId]);
  });

  it('one fresh Idempotency-Key sent 20 times at once: one ride, 20 answers naming it', async () => {
    const rider = await api.user('rider');
    const answers = await burst(rider.token, { 'idempotency-key': 'same-key-1' });
    const ids = new Set(answers.map((a) => a.body.rideId));
    expect(answers.map((a) => a.status)).toEqual(Array(PARALLEL).fill(202));
    expect(ids.size).toBe(1);
    const [rideId] = [...ids];
    expect((await api.get(`/v1/rides/${rideId}`, rider.token)).status).toBe(200);
    expect((await requestedBy([rider.userId])).get(rider.userId)).toEqual([rideId]);
  });

  it('a fresh Idempotency-Key sent 20 times while a ride is unfinished: every answer is 409, none names a ride that does not exist', async () => {
    const rider = await api.user('rider');
    const first = await api.post('/v1/rides', rider.token, { pickup, dropoff });
    expect(first.status).toBe(202);
    const answers = await burst(rider.token, { 'idempotency-key': 'fresh-key-2' });
    for (const a of answers) {
      if (a.status === 202) expect((await api.get(`/v1/rides/${a.body.rideId}`, rider.token)).status).toBe(200);
    }
    expect(answers.map((a) => [a.status, a.body.code])).toEqual(Array.from({ length: PARALLEL }, () => [409, 'RIDE_IN_PROGRESS']));
    expect((await requestedBy([rider.userId])).get(rider.userId)).toEqual([first.body.rideId]);

    // Once the ride is over, the same key is free to make the next one.
    expect((await api.post(`/v1/rides/${first.body.rideId}/cancel`, rider.token)).status).toBe(200);
    const next = await api.post('/v1/rides', rider.token, { pickup, dropoff }, { 'idempotency-key': 'fresh-key-2' });
    expect(next.status).toBe(202);
    expect((await api.get(`/v1/rides/${next.body.rideId}`, rider.token)).status).toBe(200);
  });

  it('the same Idempotency-Key with a different body is 422 IDEMPOTENCY_KEY_REUSED and appends nothing; the same body still answers the ride', async () => {
    const rider = await api.user('rider');
    const headers = { 'idempotency-key': 'k-body' };
    const first = await api.post('/v1/rides', rider.token, { pickup, dropoff }, headers);
    expect(first.status).toBe(202);
    const elsewhere = { pickup, dropoff: { lat: 38.75, lng: -9.15 } };
    const answers = await burst(rider.token, headers, elsewhere);
    expect(answers.map((a) => a.body)).toEqual(
      Array.from({ length: PARALLEL }, () => ({
        statusCode: 422,
        code: 'IDEMPOTENCY_KEY_REUSED',
        error: 'Unprocessable Entity',
        message: 'this Idempotency-Key was used with a different request body',
      })),
    );
    // The same coordinates written in another key order are the same request.
    const again = await api.post('/v1/rides', rider.token, { dropoff: { lng: dropoff.lng, lat: dropoff.lat }, pickup }, headers);
    expect(again).toMatchObject({ status: 202, body: { rideId: first.body.rideId } });
    expect((await requestedBy([rider.userId])).get(rider.userId)).toEqual([first.body.rideId]);
  });

  it('a claim left by a request that died before appending blocks the rider only until it is abandoned, and is never taken while fresh', async () => {
    const rider = await api.user('rider');
    const { claims } = service.ctx;
    // A request that claimed a moment ago and is still appending: the rider is told a ride is in progress.
    await claims.claim(`active:${rider.userId}`, encodeClaim({ rideId: 'r_inflight', claimedAtMs: Date.now(), fingerprint: null }));
    expect((await api.post('/v1/rides', rider.token, { pickup, dropoff })).body.code).toBe('RIDE_IN_PROGRESS');
    const inflight = (await claims.claim(`active:${rider.userId}`, 'probe'))!; // held: answers the holder, takes nothing
    expect(decodeClaim(inflight).rideId).toBe('r_inflight');
    // One that died 31 s ago never appended: its claim is released by value and the rider gets a ride.
    await claims.release(`active:${rider.userId}`, inflight);
    await claims.claim(`active:${rider.userId}`, encodeClaim({ rideId: 'r_dead', claimedAtMs: Date.now() - IN_FLIGHT_MAX_MS - 1_000, fingerprint: null }));
    const fresh = await api.post('/v1/rides', rider.token, { pickup, dropoff }, { 'idempotency-key': 'after-crash' });
    expect(fresh.status).toBe(202);
    expect((await api.get(`/v1/rides/${fresh.body.rideId}`, rider.token)).status).toBe(200);
  });
});
