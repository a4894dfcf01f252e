// The live relay between instances (src/app/partition/live-relay.ts) on an in-memory Channels that
// counts what is published: the shard owner publishes a ride's point only while another instance
// watches that ride, and drops its own echo without parsing it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Channels } from '../domain/ports/channels.ts';
import type { Peer } from '../domain/ports/live-feed.ts';
import { makeLiveRelay } from '../src/app/partition/live-relay.ts';
import type { LiveHub } from '../src/app/live/hub.ts';
import type { LocationMessage } from '../src/app/messages.ts';
import { waitFor } from './support/wait.ts';

/** Pub/Sub and the shared "who listens" set of one Redis, for several instances; delivery is asynchronous as on Redis. */
function makeBus() {
  const subscribers = new Map<string, Set<(m: string) => void>>();
  const kept = new Map<string, string>();
  const statements = new Map<string, { listener: string; key: string; lapsesAt: number }>();
  const published: { channel: string; message: string }[] = [];
  return {
    published,
    /** Publishes on a ride channel (the relay's per-point traffic). */
    ridePublishes: () => published.filter((p) => p.channel.startsWith('ride:')).length,
    client(): Channels {
      const mine = new Map<string, (m: string) => void>();
      return {
        publish(channel, message, keepMs) {
          published.push({ channel, message });
          if (keepMs) kept.set(channel, message);
          for (const handler of subscribers.get(channel) ?? []) queueMicrotask(() => handler(message));
        },
        async latest(channel) {
          return kept.get(channel) ?? null;
        },
        async subscribe(channel, onMessage) {
          const handler = (m: string) => mine.get(channel) === handler && onMessage(m);
          mine.set(channel, handler);
          if (!subscribers.has(channel)) subscribers.set(channel, new Set());
          subscribers.get(channel)!.add(handler);
        },
        async unsubscribe(channel) {
          const handler = mine.get(channel);
          mine.delete(channel);
          if (handler) subscribers.get(channel)?.delete(handler);
        },
        async declare(listener, keys, ttlMs) {
          for (const key of keys) statements.set(`${listener}\n${key}`, { listener, key, lapsesAt: Date.now() + ttlMs });
        },
        async withdraw(listener, keys) {
          for (const key of keys) statements.delete(`${listener}\n${key}`);
        },
        async listening() {
          return [...statements.values()].filter((s) => s.lapsesAt > Date.now()).map((s) => [s.listener, s.key] as const);
        },
        async close() {},
      };
    },
  };
}

const quiet = { warn() {} };
const peer = () => ({ actor: { userId: 'rider', role: 'rider' }, send() {}, buffered: () => 0, close() {} }) as unknown as Peer;
const point = (rideId: string, at: number): LocationMessage => ({
  type: 'driver.location', rideId, driverId: 'd1', lat: 52.5, lng: 13.4, heading: null, speed: null,
  recordedAt: new Date(at).toISOString(), etaSeconds: null, eventId: `e${at}`,
});

/** One instance's relay, its sockets' hub (what reaches the sockets), and what its tracker last pushed per ride. */
function instance(bus: ReturnType<typeof makeBus>, id: string, opts: { refreshMs?: number; lapseMs?: number } = {}) {
  const latest = new Map<string, LocationMessage>();
  const toSockets: LocationMessage[] = [];
  const relay = makeLiveRelay({ channels: bus.client(), instanceId: id, keepMs: 60_000, localLatest: (r) => latest.get(r) ?? null, logger: quiet, ...opts });
  const inner = { publishLocation: (m: LocationMessage) => void toSockets.push(m), subscribe: async () => {}, unsubscribe() {}, disconnect() {} } as unknown as LiveHub;
  const hub = relay.wrap(inner);
  return {
    relay, hub, toSockets,
    /** The owner's tracker handled a point: its own sockets, then the relay. */
    owns(m: LocationMessage) {
      latest.set(m.rideId!, m);
      relay.published(m);
    },
  };
}

const started: { relay: { stop(): Promise<void> } }[] = [];
async function start(bus: ReturnType<typeof makeBus>, id: string, opts?: { refreshMs?: number; lapseMs?: number }) {
  const i = instance(bus, id, opts);
  await i.relay.start();
  started.push(i);
  return i;
}
afterEach(async () => void (await Promise.all(started.splice(0).map((i) => i.relay.stop()))));

describe('live relay: the owner publishes only what another instance watches', () => {
  it('one instance alone publishes nothing per point, even with its own socket watching the ride', async () => {
    const bus = makeBus();
    const a = await start(bus, 'a');
    await a.hub.subscribe(peer(), 'r1');
    const t0 = Date.now();
    for (let i = 1; i <= 100; i++) a.owns(point('r1', t0 + i * 1000));
    expect(bus.ridePublishes()).toBe(0);
  });

  it('a point is published while another instance watches the ride, and reaches its sockets in order; not after it stops', async () => {
    const bus = makeBus();
    const a = await start(bus, 'a');
    const b = await start(bus, 'b');
    const watcher = peer();
    await b.hub.subscribe(watcher, 'r1');
    await waitFor(() => a.relay.watchedElsewhere('r1'), 'a hears that b watches r1');
    const t0 = Date.now();
    for (let i = 1; i <= 50; i++) a.owns(point('r1', t0 + i * 1000));
    a.owns(point('r2', t0 + 1000)); // nobody watches r2
    expect(bus.ridePublishes()).toBe(50);
    await waitFor(() => b.toSockets.length === 50, 'the 50 points on b');
    expect(b.toSockets.map((m) => m.eventId)).toEqual(Array.from({ length: 50 }, (_, i) => `e${t0 + (i + 1) * 1000}`));

    b.hub.unsubscribe(watcher, 'r1');
    await waitFor(() => !a.relay.watchedElsewhere('r1'), 'a hears that b stopped watching r1');
    for (let i = 51; i <= 60; i++) a.owns(point('r1', t0 + i * 1000));
    expect(bus.ridePublishes()).toBe(50);
  });

  it("a newcomer gets the owner's newest location at once, though nothing was published while nobody watched", async () => {
    const bus = makeBus();
    const a = await start(bus, 'a');
    const b = await start(bus, 'b');
    const t0 = Date.now();
    for (let i = 1; i <= 5; i++) a.owns(point('r1', t0 + i * 1000));
    expect(bus.ridePublishes()).toBe(0);
    await b.hub.subscribe(peer(), 'r1');
    await waitFor(() => b.toSockets.length === 1, "the owner's answer on b");
    expect(b.toSockets[0]!.eventId).toBe(`e${t0 + 5000}`);
    a.owns(point('r1', t0 + 6000));
    await waitFor(() => b.toSockets.length === 2, 'the next point on b');
  });

  it('an instance started after the watch began (a new shard owner) knows the watch before its first point', async () => {
    const bus = makeBus();
    const b = await start(bus, 'b');
    await b.hub.subscribe(peer(), 'r1');
    const c = await start(bus, 'c');
    expect(c.relay.watchedElsewhere('r1')).toBe(true);
    c.owns(point('r1', Date.now()));
    expect(bus.ridePublishes()).toBe(1);
  });

  it('a watcher gone without a word (crashed) lapses: the owner stops publishing for it', async () => {
    const bus = makeBus();
    const a = await start(bus, 'a', { refreshMs: 20, lapseMs: 60 });
    // An instance that states its watch once, as the relay does, and is never heard of again.
    const crashed = bus.client();
    await crashed.declare('crashed', ['r1'], 60);
    crashed.publish('ride-watchers', '+crashed\nr1');
    await waitFor(() => a.relay.watchedElsewhere('r1'), 'a hears that the crashed instance watched r1');
    await waitFor(() => !a.relay.watchedElsewhere('r1'), 'the statement lapses and a forgets it');
    a.owns(point('r1', Date.now()));
    expect(bus.ridePublishes()).toBe(0);
  });

  it("the owner's own echo (it watches the ride too) is dropped without JSON.parse", async () => {
    const bus = makeBus();
    const a = await start(bus, 'a');
    const b = await start(bus, 'b');
    await a.hub.subscribe(peer(), 'r1');
    await b.hub.subscribe(peer(), 'r1');
    await waitFor(() => a.relay.watchedElsewhere('r1'), 'a hears that b watches r1');
    // Each subscribe above resolved after its channel's kept-latest read, and the wait let the
    // statements' deliveries run: nothing is parsed from here on but the points.
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const t0 = Date.now();
      for (let i = 1; i <= 20; i++) a.owns(point('r1', t0 + i * 1000));
      await waitFor(() => b.toSockets.length === 20, 'the 20 points on b');
      expect(a.toSockets).toHaveLength(0);
      expect(parse).toHaveBeenCalledTimes(20); // b's, one per point; none on a
    } finally {
      parse.mockRestore();
    }
  });
});
