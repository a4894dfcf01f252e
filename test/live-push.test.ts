// Issue 15, session 7: what one push costs. A location message carries its device time beside it (a
// symbol key, never serialised) so the hub does not parse `recordedAt` back per mark and per watcher;
// a message is serialised once for all its recipients; pushes are tallied in plain numbers and handed
// to the Prometheus counter when it is read. None of it changes a byte of what a socket receives.
import { describe, expect, it } from 'vitest';
import type { Peer } from '../domain/ports/live-feed.ts';
import type { Ride } from '../domain/ride/index.ts';
import { makeLiveHub } from '../src/app/live/hub.ts';
import { DEVICE_AT, deviceAtOf, type LocationMessage } from '../src/app/messages.ts';
import { makeMetrics } from '../src/app/metrics.ts';

const AT = Date.UTC(2026, 11, 2, 12, 0, 0);
const location = (at: number, withDeviceAt: boolean): LocationMessage => ({
  type: 'driver.location', rideId: 'r_1', driverId: 'd_1', lat: 52.5, lng: 13.4, heading: 90, speed: 10,
  recordedAt: new Date(at).toISOString(), etaSeconds: 60, eventId: `driver-locations:${at}`,
  ...(withDeviceAt && { [DEVICE_AT]: at }),
});

describe('a location push', () => {
  it('serialises without the device time it carries, and reads it back carried or parsed', () => {
    const carried = location(AT, true);
    const parsed = location(AT, false);
    expect(JSON.stringify(carried)).toBe(JSON.stringify(parsed));
    expect(deviceAtOf(carried)).toBe(AT);
    expect(deviceAtOf(parsed)).toBe(AT);
    expect(deviceAtOf(JSON.parse(JSON.stringify(carried)) as LocationMessage)).toBe(AT);
  });

  it('reaches every watcher as the same JSON, in device-time order, and is counted when the counter is read', async () => {
    const metrics = makeMetrics();
    const ride = { rideId: 'r_1', riderId: 'u_1', driverId: 'd_1', status: 'in_progress', version: 3 } as unknown as Ride;
    const hub = makeLiveHub({
      clock: { now: () => AT },
      metrics,
      logger: { warn() {} },
      maxBufferedBytes: 1 << 20,
      ride: async () => ride,
      rideHistory: async () => [],
      rideTrack: async () => [],
      latestLocation: () => null,
      offeredRideOf: () => null,
    });
    const received: string[][] = [[], []];
    const peers: Peer[] = received.map((box, i) => ({
      actor: { userId: i === 0 ? 'u_1' : 'op_1', role: i === 0 ? 'rider' : 'admin' },
      send: (m: string) => void box.push(m),
      buffered: () => 0,
      close() {},
    }));
    for (const p of peers) {
      hub.connect(p);
      await hub.subscribe(p, 'r_1');
    }
    hub.publishLocation(location(AT + 2_000, true));
    hub.publishLocation(location(AT + 1_000, true)); // older than what was shown: not sent again
    hub.publishLocation(location(AT + 3_000, false)); // relayed (parsed JSON): no carried device time
    const locations = received.map((box) => box.filter((m) => m.startsWith('{"type":"driver.location"')));
    expect(locations[0]).toEqual([JSON.stringify(location(AT + 2_000, false)), JSON.stringify(location(AT + 3_000, false))]);
    expect(locations[1]).toEqual(locations[0]);
    const pushed = await metrics.pushed.get();
    expect(pushed.values.find((v) => v.labels.type === 'driver.location')?.value).toBe(4);
    // Read again: nothing counted twice.
    expect((await metrics.pushed.get()).values.find((v) => v.labels.type === 'driver.location')?.value).toBe(4);
  });

  it('tallies and incs of one counter add up when it is read, each tally once', async () => {
    const metrics = makeMetrics();
    const tally = metrics.eventsAppended.tally({ stream: 'driver-locations' });
    tally.n += 3;
    metrics.eventsAppended.inc({ stream: 'driver-locations' }, 2);
    metrics.eventsAppended.inc({ stream: 'rides' });
    const read = async () => Object.fromEntries((await metrics.eventsAppended.get()).values.map((v) => [v.labels.stream, v.value]));
    expect(await read()).toEqual({ 'driver-locations': 5, rides: 1 });
    tally.n += 1;
    expect(await read()).toEqual({ 'driver-locations': 6, rides: 1 });
    expect(await metrics.registry.metrics()).toContain('ridecast_events_appended_total{stream="driver-locations"} 6');
  });
});
