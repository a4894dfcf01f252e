import { describe, expect, it } from 'vitest';
import { streams, type Recorded } from '../domain/ports/event-log.ts';
import type { RideEvent } from '../domain/ride/index.ts';
import { waitFor } from './support/wait.ts';
import { opaque } from './support/opaque-log.ts';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { eventLogContract } from './contract/event-log.contract.ts';

// Memory delivers what is pending for a member as one batch.
eventLogContract('memory', async () => getInMemoryEventLog({ retryDelayMs: 5 }));

describe('typed streams', () => {
  it('hands a rides subscriber ride events and refuses, at compile time, an event of another stream', async () => {
    const log = getInMemoryEventLog();
    const seen: Recorded<RideEvent>[] = [];
    await log.subscribe(streams.rides, { group: 'g', consumer: 'c', handler: async (e) => void seen.push(e) });
    const requested: RideEvent = { type: 'RideRequested', data: { rideId: 'r_1', riderId: 'u_1', pickup: { lat: 1, lng: 2 }, dropoff: { lat: 1, lng: 3 }, at: 5 } };
    await log.append(streams.rides, 'r_1', [requested], { expectedVersion: 0 });
    // Never called: tsc checks that a driver event cannot go on the rides stream.
    // @ts-expect-error DriverFreed is not a RideEvent
    const wrongStream = () => log.append(streams.rides, 'r_1', [{ type: 'DriverFreed', data: { driverId: 'd_1', rideId: 'r_1', at: 1 } }]);
    expect(typeof wrongStream).toBe('function');
    await waitFor(() => seen.length > 0, 'the ride event');
    // The handler's event is typed: its data is read without a cast.
    expect(seen[0]!.type === 'RideRequested' && seen[0]!.data.riderId).toBe('u_1');
    expect((await log.readKey('rides', 'r_1'))[0]!.metadata).toMatchObject({ stream: 'rides', version: 1 });
    await log.close();
  });
});

describe('the embedded log under load', () => {
  const point = (i: number) => ({ type: 'Numbered', data: { i } });
  const iOf = (e: { data: unknown }) => (e.data as { i: number }).i;

  it('hands a backlog over in bounded batches with a turn of the event loop between them', async () => {
    const log = getInMemoryEventLog();
    for (let i = 0; i < 2_000; i++) await opaque(log).append('driver-locations', `k_${i % 7}`, [point(i)]);
    const batches: number[] = [];
    let seenAtNextTurn = -1;
    await log.subscribe('driver-locations', {
      group: 'g', consumer: 'c', from: 'start',
      batchHandler: async (events) => void batches.push(events.length),
    });
    // A request or a socket write queued now gets its turn before the whole backlog is through.
    setImmediate(() => (seenAtNextTurn = batches.reduce((n, b) => n + b, 0)));
    await waitFor(() => batches.reduce((n, b) => n + b, 0) === 2_000, 'the whole backlog');
    expect(Math.max(...batches)).toBeLessThanOrEqual(256);
    expect(seenAtNextTurn).toBeGreaterThan(0);
    expect(seenAtNextTurn).toBeLessThan(2_000);
    await log.close();
  });

  it('keeps positions, order and retention across storage chunks', async () => {
    const log = getInMemoryEventLog({ maxLength: { 'driver-locations': 5_000 } });
    for (let i = 0; i < 12_000; i += 100) await opaque(log).append('driver-locations', `k_${i % 3}`, Array.from({ length: 100 }, (_, j) => point(i + j)));
    const all = await log.read('driver-locations');
    expect(all).toHaveLength(5_000);
    expect(all.map(iOf)).toEqual(Array.from({ length: 5_000 }, (_, j) => 7_000 + j));
    expect(all.map((e) => Number(e.metadata.position))).toEqual(Array.from({ length: 5_000 }, (_, j) => 7_001 + j));
    expect(all[0]!.metadata).toMatchObject({ stream: 'driver-locations', eventId: 'driver-locations:7001', key: 'k_1' });
    const page = await log.read('driver-locations', { after: '8191', limit: 3 });
    expect(page.map((e) => e.metadata.position)).toEqual(['8192', '8193', '8194']);
    const delivered: number[] = [];
    await log.subscribe('driver-locations', { group: 'g', consumer: 'c', from: 'start', handler: async (e) => void delivered.push(iOf(e)) });
    await waitFor(() => delivered.length === 5_000, 'the retained events');
    expect(delivered).toEqual(Array.from({ length: 5_000 }, (_, j) => 7_000 + j));
    await log.close();
  });

  it('hands a crashed member’s whole backlog to the member that joins after it, each event once', async () => {
    const log = getInMemoryEventLog();
    const n = 200_000;
    for (let i = 0; i < n; i += 1_000) await opaque(log).append('driver-locations', `k_${i % 5}`, Array.from({ length: 1_000 }, (_, j) => point(i + j)));
    // The first member holds its first batch and never finishes it: all the rest waits in its queue.
    const first = await log.subscribe('driver-locations', { group: 'g', consumer: 'a', from: 'start', batchHandler: () => new Promise<void>(() => undefined) });
    const seen: number[] = [];
    const second = await log.subscribe('driver-locations', { group: 'g', consumer: 'b', from: 'start', batchHandler: async (events) => void events.forEach((e) => seen.push(iOf(e))) });
    await first.abort();
    await waitFor(() => seen.length === n, 'every event, once, on the second member');
    expect(new Set(seen).size).toBe(n);
    await second.close();
    await log.close();
  });
});
