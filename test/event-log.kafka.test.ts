import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { opaque, type OpaqueLog } from './support/opaque-log.ts';
import { getKafkaEventLog, type KafkaEventLog, type KafkaEventLogOptions } from '../adapters/kafka/event-log.ts';
import { PermanentFailure } from '../domain/failures.ts';
import { getInMemoryClaims } from '../adapters/memory/claims.ts';
import { eventLogContract } from './contract/event-log.contract.ts';
import { createStreamIndex } from '../adapters/kafka/stream-index.ts';
import { batchFailure, eventIdOf, type EventLog, type Recorded } from '../domain/ports/event-log.ts';
import { startKafka, type KafkaCluster } from './support/kafka.ts';
import { waitFor } from './support/wait.ts';

// Every consumer group join costs seconds on a broker (3 s on the mock): tests need more than the default 30 s.
vi.setConfig({ testTimeout: 60_000 });

let cluster: KafkaCluster;
let counter = 0;
const warnings: unknown[] = [];
const logger = { warn: (o: unknown) => void warnings.push(o), error: (o: unknown) => void warnings.push(o) };

beforeAll(async () => {
  cluster = await startKafka();
});
afterAll(async () => {
  await cluster?.stop();
});

const makeLog = (extra: Partial<KafkaEventLogOptions> = {}) =>
  opaque(getKafkaEventLog({
    brokers: cluster.brokers,
    clientId: 'ridecast-test',
    topicPrefix: `t${process.pid}-${++counter}.`,
    // The mock has no CreateTopics and cannot do idempotence (see test/support/kafka.ts).
    createTopics: cluster.real,
    idempotent: cluster.real,
    retryDelayMs: 20,
    // The mock holds a rejoin for sessionTimeout - 1000 ms and expires a member still waiting on its
    // first (3 s) join below about 4 s; a real broker refuses less than 6 s. 6 s leaves headroom for both.
    consumer: { sessionTimeoutMs: 6_000, rebalanceTimeoutMs: 6_000, heartbeatIntervalMs: 300, maxWaitTimeMs: 100 },
    retry: { initialRetryTimeMs: 100, retries: 5 },
    logger,
    ...extra,
  }));

eventLogContract('kafka', async () => makeLog(), { timeoutMs: 45_000 });

const ev = (n: number, key = 'r_1') => ({ type: 'Numbered', data: { n, key } });
const gps = (n: number) => ({ type: 'DriverLocationReported', data: { n, lat: 52.5, lng: 13.4 } });
const nOf = (e: Recorded) => (e.data as { n: number }).n;

describe('kafka event log specifics', () => {
  const open: OpaqueLog[] = [];
  const track = <L extends OpaqueLog>(log: L) => (open.push(log), log);
  afterAll(async () => {
    await Promise.all(open.map((l) => l.close().catch(() => undefined)));
    expect(warnings).toEqual([]);
  });

  it('with a shared version arbiter, two processes racing on one entity write each version once', async () => {
    const topicPrefix = `t${process.pid}-${++counter}.`;
    const arbiter = getInMemoryClaims();
    const a = track(makeLog({ topicPrefix, versionArbiter: arbiter }));
    const b = track(makeLog({ topicPrefix, versionArbiter: arbiter }));
    let wins = 0;
    let conflicts = 0;
    for (let round = 0; round < 8; round++) {
      // Both read the same version, then both try to write the next one at the same moment.
      const [va, vb] = await Promise.all([a.readKey('drivers', 'd_1'), b.readKey('drivers', 'd_1')]);
      expect(va.length).toBe(vb.length);
      const tries = await Promise.allSettled([a, b].map((log, i) => log.append('drivers', 'd_1', [ev(round * 2 + i, 'd_1')], { expectedVersion: va.length })));
      for (const t of tries) {
        if (t.status === 'fulfilled') wins++;
        else if ((t.reason as { code?: string }).code === 'VERSION_CONFLICT') conflicts++;
        else throw t.reason;
      }
      await waitFor(async () => (await b.readKey('drivers', 'd_1')).length === round + 1 && (await a.readKey('drivers', 'd_1')).length === round + 1, 'both to see the winner');
    }
    expect(wins).toBe(8);
    expect(conflicts).toBe(8);
    const history = await a.readKey('drivers', 'd_1');
    expect(history.map((e) => e.metadata.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('sees what another process wrote: reads and version checks catch up with the broker first', async () => {
    const topicPrefix = `t${process.pid}-${++counter}.`;
    const a = track(makeLog({ topicPrefix }));
    const b = track(makeLog({ topicPrefix }));
    await a.append('rides', 'r_1', [ev(1), ev(2)], { expectedVersion: 0 });
    expect((await b.readKey('rides', 'r_1')).map(nOf)).toEqual([1, 2]);
    await expect(b.append('rides', 'r_1', [ev(3)], { expectedVersion: 0 })).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
    await b.append('rides', 'r_1', [ev(3)], { expectedVersion: 2 });
    await a.append('rides', 'r_2', [ev(4, 'r_2')], { expectedVersion: 0 });
    expect((await a.readKey('rides', 'r_1')).map((e) => e.metadata.version)).toEqual([1, 2, 3]);
    const seenByA = await a.read('rides');
    expect(seenByA.map(nOf)).toEqual([1, 2, 3, 4]);
    expect(await b.read('rides')).toEqual(seenByA);

    // A process that starts later replays the topic into the same histories and order.
    const c = track(makeLog({ topicPrefix }));
    expect(await c.readKey('rides', 'r_1')).toEqual(await a.readKey('rides', 'r_1'));
    expect(await c.read('rides', { after: seenByA[1]!.metadata.position })).toEqual(seenByA.slice(2));
  });

  it('sets an event aside as a dead letter after maxDeliveries and moves on', async () => {
    const log = track(makeLog({ maxDeliveries: 3 }));
    const attempts: number[] = [];
    const handled: number[] = [];
    const sub = await log.subscribe('rides', {
      group: 'poisoned',
      consumer: 'c1',
      handler: async (e) => {
        if (nOf(e) === 2) {
          attempts.push(2);
          throw new PermanentFailure('poison');
        }
        handled.push(nOf(e));
      },
    });
    for (let n = 1; n <= 3; n++) await log.append('rides', 'r_1', [ev(n)]);
    await waitFor(() => handled.includes(3), 'the event after the poison one', 20_000);
    await sub.close();
    expect(attempts).toHaveLength(3);
    expect(handled).toEqual([1, 3]);
    expect(log.deadLetterCount()).toBe(1);
  });

  it('closing mid-retry stops at once: what the batch handled stays committed, the failed event goes to the next member', async () => {
    const topicPrefix = `t${process.pid}-${++counter}.`;
    const log = track(makeLog({ topicPrefix }));
    await log.append('rides', 'r_1', [1, 2, 3, 4, 5, 6].map((n) => ev(n)));
    const calls: number[][] = [];
    const sub = await log.subscribe('rides', {
      group: 'mid-retry',
      consumer: 'c1',
      batchHandler: async (events) => {
        calls.push(events.map(nOf));
        const i = events.findIndex((e) => nOf(e) === 4);
        // A backend refusing writes: retried in place for as long as it lasts.
        if (i >= 0) throw batchFailure(i, Object.assign(new Error('READONLY'), { name: 'ReplyError' }));
      },
    });
    await waitFor(() => calls.length >= 3, 'the failed event retried in place', 20_000);
    await sub.close();
    expect(calls.slice(0, 3)).toEqual([[1, 2, 3, 4, 5, 6], [4], [4]]);
    const second: number[] = [];
    const next = await log.subscribe('rides', { group: 'mid-retry', consumer: 'c2', handler: async (e) => void second.push(nOf(e)) });
    await log.append('rides', 'r_1', [ev(7)]);
    await waitFor(() => second.includes(7), 'the sentinel', 20_000);
    await next.close();
    expect(second).toEqual([4, 5, 6, 7]);
  });

  it('heartbeats while a batch handler runs longer than the session timeout: the batch is not taken away and handed again', async () => {
    const log = track(makeLog());
    await log.append('rides', 'r_1', [ev(1), ev(2)]);
    const calls: number[][] = [];
    const sub = await log.subscribe('rides', {
      group: 'slow',
      consumer: 'c1',
      batchHandler: async (events) => {
        calls.push(events.map(nOf));
        // Slow work, longer than the 6 s session timeout: without heartbeats the broker expels the member.
        if (calls.length === 1) await new Promise((r) => setTimeout(r, 7_000));
      },
    });
    await waitFor(() => calls.length > 0, 'the first batch', 20_000);
    await log.append('rides', 'r_1', [ev(3)]);
    await waitFor(() => calls.flat().includes(3), 'the event after the slow batch', 30_000);
    await sub.close();
    expect(calls).toEqual([[1, 2], [3]]);
  });

  it('spreads keys over partitions when asked, each key staying in one partition and in order', async () => {
    const log = track(makeLog({ partitions: 4 }));
    for (let n = 1; n <= 20; n++) await log.append('rides', `r_${n % 5}`, [ev(n, `r_${n % 5}`)], { expectedVersion: Math.floor((n - 1) / 5) });
    const all = await log.read('rides');
    expect(all.map(nOf).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const partitionOf = (e: Recorded) => e.metadata.position.split('-')[0];
    expect(new Set(all.map(partitionOf)).size).toBeGreaterThan(1);
    for (let k = 0; k < 5; k++) {
      const mine = all.filter((e) => e.metadata.key === `r_${k}`);
      expect(new Set(mine.map(partitionOf)).size).toBe(1);
      expect(mine.map((e) => e.metadata.version)).toEqual([1, 2, 3, 4]);
      expect(await log.readKey('rides', `r_${k}`)).toEqual(mine);
    }
    expect(await log.read('rides', { after: all[9]!.metadata.position })).toEqual(all.slice(10));
    await expect(log.read('rides', { after: 'yesterday' })).rejects.toMatchObject({ code: 'INVALID_POSITION' });
  });

  it('keeps GPS points versionless, without history, and serves the newest of them to read()', async () => {
    const log = track(makeLog({ readWindow: { 'driver-locations': 10 } }));
    for (let n = 1; n <= 5; n++) expect((await log.append('driver-locations', 'd_1', [gps(n)]))[0]!.metadata.version).toBe(0);
    expect((await log.read('driver-locations')).map(nOf)).toEqual([1, 2, 3, 4, 5]);
    for (let n = 6; n <= 40; n++) await log.append('driver-locations', 'd_1', [gps(n)]);
    const kept = (await log.read('driver-locations')).map(nOf);
    expect(kept.length).toBeGreaterThanOrEqual(10);
    expect(kept.length).toBeLessThan(15);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 41 - kept.length + i));
    expect(await log.readKey('driver-locations', 'd_1')).toEqual([]);
  });

  it('answers ping false when the broker is gone, and after close', async () => {
    const other = await startKafka();
    const log = getKafkaEventLog({ brokers: other.brokers, topicPrefix: 'gone.', createTopics: false, idempotent: false, pingTimeoutMs: 1_000, retry: { retries: 1, initialRetryTimeMs: 50 }, logger: { warn: () => {}, error: () => {} } });
    expect(await log.ping()).toBe(true);
    await other.stop();
    if (!other.real) expect(await log.ping()).toBe(false);
    await log.close();
    expect(await log.ping()).toBe(false);
  });
});

describe('kafka stream index', () => {
  const at = (partition: number, offset: number, key = 'r_1', recordedAtMs = 1000, n = offset): Recorded => {
    const position = `${partition}-${offset}`;
    return { type: 'Numbered', data: { n }, metadata: { eventId: eventIdOf('rides', position), stream: 'rides', position, key, version: 0, recordedAtMs } };
  };

  it('holds appended records behind a gap until the reader fills it, then applies each offset once', () => {
    const index = createStreamIndex({ keepHistory: true });
    index.startAt(0, 0);
    index.fromAppend(0, 2, [at(0, 2), at(0, 3)]);
    expect(index.applied(0, 2)).toBe(false);
    expect(index.slice(undefined, Infinity)).toEqual([]);
    index.fromReader(0, 0, at(0, 0));
    index.fromReader(0, 1, at(0, 1));
    expect(index.applied(0, 3)).toBe(true);
    index.fromReader(0, 2, at(0, 2));
    index.fromReader(0, 3, at(0, 3));
    expect(index.history('r_1').map((e) => e.metadata.position)).toEqual(['0-0', '0-1', '0-2', '0-3']);
    expect(index.covers([{ partition: 0, low: 0, high: 4 }])).toBe(true);
    expect(index.covers([{ partition: 0, low: 0, high: 5 }, { partition: 1, low: 0, high: 0 }])).toBe(false);
  });

  it('follows the reader past records that are gone, and skips what it cannot decode', () => {
    const index = createStreamIndex({ keepHistory: true });
    index.startAt(0, 0);
    index.fromAppend(0, 3, [at(0, 3)]);
    index.fromReader(0, 5, null);
    index.fromReader(0, 6, at(0, 6));
    expect(index.slice(undefined, Infinity).map((e) => e.metadata.position)).toEqual(['0-6']);
    expect(index.covers([{ partition: 0, low: 5, high: 7 }])).toBe(true);
  });

  it('orders partitions by recorded time, never letting one partition run backwards', () => {
    const index = createStreamIndex({ keepHistory: false });
    index.fromReader(1, 0, at(1, 0, 'a', 2000, 1));
    index.fromReader(1, 1, at(1, 1, 'a', 1500, 2)); // a writer's clock stepped back: still after its predecessor
    index.fromReader(0, 0, at(0, 0, 'b', 1000, 3));
    index.fromReader(0, 1, at(0, 1, 'b', 2000, 4));
    // (sortTs, partition, offset): 3 (1000, 0, 0), 4 (2000, 0, 1), 1 (2000, 1, 0), 2 (2000 not 1500, 1, 1)
    expect(index.slice(undefined, Infinity).map(nOf)).toEqual([3, 4, 1, 2]);
    expect(index.slice('0-1', 5).map(nOf)).toEqual([1, 2]);
    expect(index.slice('0-0', 2).map(nOf)).toEqual([4, 1]);
  });

  it('keeps about maxEvents for read() and resumes a trimmed position at its partition’s next event', () => {
    const index = createStreamIndex({ keepHistory: true, maxEvents: 8 });
    for (let o = 0; o < 30; o++) index.fromReader(0, o, at(0, o));
    const kept = index.slice(undefined, Infinity);
    expect(kept.length).toBeGreaterThanOrEqual(8);
    expect(kept.length).toBeLessThanOrEqual(9);
    expect(kept.at(-1)!.metadata.position).toBe('0-29');
    expect(index.slice('0-2', 1)).toEqual(kept.slice(0, 1));
    expect(index.history('r_1')).toHaveLength(30);
  });

  it('fails waits with the close reason', async () => {
    const index = createStreamIndex({ keepHistory: true });
    const wait = index.waitUntil(() => index.applied(0, 0), 10_000);
    index.close(new Error('closed'));
    await expect(wait).rejects.toThrow('closed');
  });
});
