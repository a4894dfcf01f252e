import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evolveDriver, HOLD_GRACE_MS, initialDriverState, isFree, type DriverEvent } from '../domain/driver/index.ts';
import type { Clock } from '../domain/ports/clock.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import type { LocationRecorded } from '../domain/tracking/events.ts';
import { makeFleet } from '../projections/fleet/index.ts';
import { makeRedisGeoProjection } from '../projections/geo/redis-geo.ts';
import { makeNearby } from '../src/app/nearby.ts';
import { startRedis, type RedisServer } from './support/redis.ts';

/**
 * "Is this driver free" has one answer: the driver decider's `isFree(state, now)`. The rbush fleet
 * index (memory, Kafka) and the Redis GEO projection (Redis) must list a driver as nearby exactly
 * when the decider says free and the driver's last fix is fresh. Each row is one driver's history.
 */

const T0 = 1_750_000_000_000;
const FRESH_MS = 60_000;
const EXPIRES = T0 + 15_000;
const HERE = { lat: 52.52, lng: 13.405 };

type Step =
  | ['online' | 'offline']
  | ['hold', string, number?]
  | ['release' | 'assign' | 'free', string];

interface Row {
  readonly name: string;
  readonly history: readonly Step[];
  /** When the question is asked. */
  readonly now: number;
  /** The driver's last fix (device time); none when absent. */
  readonly fixAt?: number | null;
  /** The decider's answer, stated here so the table reads as the rule. */
  readonly free: boolean;
}

const rows: Row[] = [
  { name: 'never online', history: [], now: T0 + 1_000, free: false },
  { name: 'available', history: [['online']], now: T0 + 1_000, free: true },
  { name: 'available, then unavailable', history: [['online'], ['offline']], now: T0 + 1_000, free: false },
  { name: 'holding a live hold', history: [['online'], ['hold', 'r1']], now: T0 + 1_000, free: false },
  { name: 'holding a hold past its expiry, within the grace', history: [['online'], ['hold', 'r1']], now: EXPIRES + HOLD_GRACE_MS - 1, free: false },
  { name: 'holding a hold at expiry plus grace exactly', history: [['online'], ['hold', 'r1']], now: EXPIRES + HOLD_GRACE_MS, free: false },
  { name: 'holding a hold that lapsed (its matcher died)', history: [['online'], ['hold', 'r1']], now: EXPIRES + HOLD_GRACE_MS + 1, free: true },
  { name: 'a lapsed hold, taken over by a new live one', history: [['online'], ['hold', 'r1'], ['release', 'r1'], ['hold', 'r2', T0 + 200_000]], now: EXPIRES + HOLD_GRACE_MS + 1, free: false },
  { name: 'hold released', history: [['online'], ['hold', 'r1'], ['release', 'r1']], now: T0 + 1_000, free: true },
  { name: 'another ride released: still held', history: [['online'], ['hold', 'r1'], ['release', 'r9']], now: T0 + 1_000, free: false },
  { name: 'offline and online again while holding a live hold', history: [['online'], ['hold', 'r1'], ['offline'], ['online']], now: T0 + 1_000, free: false },
  { name: 'on a ride', history: [['online'], ['hold', 'r1'], ['assign', 'r1']], now: T0 + 1_000, free: false },
  { name: 'on a ride, long after the offer expired', history: [['online'], ['hold', 'r1'], ['assign', 'r1']], now: EXPIRES + 120_000, free: false },
  { name: 'ride finished', history: [['online'], ['hold', 'r1'], ['assign', 'r1'], ['free', 'r1']], now: T0 + 1_000, free: true },
  { name: 'another ride finished: still on the ride', history: [['online'], ['assign', 'r1'], ['free', 'r9']], now: T0 + 1_000, free: false },
  { name: 'went offline during the ride, then it finished', history: [['online'], ['assign', 'r1'], ['offline'], ['free', 'r1']], now: T0 + 1_000, free: false },
  { name: 'free, fix exactly as old as the freshness limit', history: [['online']], now: T0 + 1_000, fixAt: T0 + 1_000 - FRESH_MS, free: true },
  { name: 'free, stale position', history: [['online']], now: T0 + 1_000, fixAt: T0 + 1_000 - FRESH_MS - 1, free: true },
  { name: 'free, no position', history: [['online']], now: T0 + 1_000, fixAt: null, free: true },
];

function eventsOf(driverId: string, history: readonly Step[]): Recorded<DriverEvent>[] {
  return history.map((step, i) => {
    const at = T0 + i;
    const data =
      step[0] === 'online' || step[0] === 'offline'
        ? { type: 'DriverAvailabilityChanged', data: { driverId, available: step[0] === 'online', at } }
        : step[0] === 'hold'
          ? { type: 'DriverOfferHeld', data: { driverId, rideId: step[1], expiresAt: step[2] ?? EXPIRES, at } }
          : { type: { release: 'DriverOfferReleased', assign: 'DriverAssigned', free: 'DriverFreed' }[step[0]], data: { driverId, rideId: step[1], at } };
    const version = i + 1;
    return { ...data, metadata: { eventId: `drivers:${driverId}-${version}`, stream: 'drivers', position: `${i}`, key: driverId, version, recordedAtMs: at } } as Recorded<DriverEvent>;
  });
}

const fixOf = (driverId: string, recordedAt: number): Recorded<LocationRecorded> => ({
  type: 'LocationRecorded',
  data: { driverId, ...HERE, recordedAt, heading: null, speed: null, accuracy: 5, rideId: null, late: false },
  metadata: { eventId: `driver-locations:${driverId}`, stream: 'driver-locations', position: '1', key: driverId, version: 0, recordedAtMs: recordedAt },
});

const fixAtOf = (row: Row) => (row.fixAt === undefined ? row.now - 1_000 : row.fixAt);
const listed = (row: Row) => row.free && fixAtOf(row) !== null && row.now - fixAtOf(row)! <= FRESH_MS;
const clockAt = (row: Row): Clock => ({ now: () => row.now });
const query = { ...HERE, radiusMeters: 500, limit: 10 };

describe('is this driver free: the decider, the rbush fleet and Redis GEO answer alike', () => {
  let server: RedisServer;
  let n = 0;
  const open: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(open.map((p) => p.close()));
    await server?.stop();
  });

  it.each(rows)('$name', async (row) => {
    const driverId = `d${++n}`;
    const events = eventsOf(driverId, row.history);
    const fixAt = fixAtOf(row);
    const clock = clockAt(row);

    // The decider.
    expect(isFree(events.reduce(evolveDriver, initialDriverState()), row.now)).toBe(row.free);

    // The rbush fleet index (memory and Kafka): its own candidates' `free`, and the nearby query.
    const fleet = makeFleet({ clock });
    for (const e of events) fleet.applyDriverEvent(e);
    if (fixAt !== null) fleet.moveDriver(fixOf(driverId, fixAt), { ...HERE, heading: null, speed: null });
    const candidate = fleet.nearest(HERE, 10, 500)[0];
    if (candidate) expect(candidate.free).toBe(row.free);
    const fromFleet = await makeNearby({ fleet, freshnessMs: FRESH_MS, clock })(query);
    expect(fromFleet.map((d) => d.driverId)).toEqual(listed(row) ? [driverId] : []);

    // The Redis GEO projection, on a real redis-server (Redis transport).
    const geo = makeRedisGeoProjection({ url: server.url, key: `free${n}:{geo}:drivers`, staleAfterMs: FRESH_MS, clock });
    open.push(geo);
    for (const e of events) await geo.onDriverEvent(e);
    if (fixAt !== null) await geo.onLocation(fixOf(driverId, fixAt));
    const fromRedis = await makeNearby({ fleet: makeFleet({ clock }), positions: geo, freshnessMs: FRESH_MS, clock })(query);
    expect(fromRedis).toEqual(fromFleet);
  });

  it('asks Redis with the query time, not the time the events were applied: a hold lapses on its own', async () => {
    const row = rows.find((r) => r.name === 'holding a live hold')!;
    const driverId = 'd_lapse';
    let now = T0 + 1_000;
    const clock: Clock = { now: () => now };
    const geo = makeRedisGeoProjection({ url: server.url, key: `lapse:{geo}:drivers`, staleAfterMs: 10 * 60_000, clock });
    open.push(geo);
    const fleet = makeFleet({ clock });
    for (const e of eventsOf(driverId, row.history)) fleet.applyDriverEvent(e), await geo.onDriverEvent(e);
    fleet.moveDriver(fixOf(driverId, T0), { ...HERE, heading: null, speed: null });
    await geo.onLocation(fixOf(driverId, T0));
    const ask = async () => ({
      fleet: (await makeNearby({ fleet, freshnessMs: 10 * 60_000, clock })(query)).map((d) => d.driverId),
      redis: (await makeNearby({ fleet, positions: geo, freshnessMs: 10 * 60_000, clock })(query)).map((d) => d.driverId),
    });
    expect(await ask()).toEqual({ fleet: [], redis: [] });
    now = EXPIRES + HOLD_GRACE_MS + 1; // no event in between: only time passes
    expect(await ask()).toEqual({ fleet: [driverId], redis: [driverId] });
  });
});
