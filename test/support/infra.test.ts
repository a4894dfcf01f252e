// Proves the real-server test infrastructure: redis-server and Kafka (mock or KAFKA_BROKERS).
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaCluster } from './kafka.ts';
import { startRedis, type RedisServer } from './redis.ts';
import { waitFor } from './wait.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

describe('redis-server', () => {
  const servers: RedisServer[] = [];
  const clients: Redis[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });
  const client = (url: string) => {
    const c = new Redis(url, { maxRetriesPerRequest: 1 });
    clients.push(c);
    return c;
  };

  it('answers PING, XADD and XRANGE', async () => {
    const srv = await startRedis();
    servers.push(srv);
    expect(srv.url).toBe(`redis://127.0.0.1:${srv.port}`);
    const r = client(srv.url);
    expect(await r.ping()).toBe('PONG');
    const id1 = await r.xadd('rides', '*', 'type', 'RideRequested', 'rideId', 'r1');
    const id2 = await r.xadd('rides', '*', 'type', 'RideAccepted', 'rideId', 'r1');
    const entries = await r.xrange('rides', '-', '+');
    expect(entries).toEqual([
      [id1, ['type', 'RideRequested', 'rideId', 'r1']],
      [id2, ['type', 'RideAccepted', 'rideId', 'r1']],
    ]);
  });

  it('recovers the stream from the AOF after kill -9 and after a graceful restart', async () => {
    const srv = await startRedis({ aof: true });
    servers.push(srv);
    let r = client(srv.url);
    const id = await r.xadd('rides', '*', 'type', 'RideRequested');
    r.disconnect();

    await srv.kill();
    await srv.start();
    r = client(srv.url);
    expect((await r.xrange('rides', '-', '+')).map(([i]) => i)).toEqual([id]);
    const id2 = await r.xadd('rides', '*', 'type', 'RideCompleted');
    r.disconnect();

    await srv.restart();
    r = client(srv.url);
    expect((await r.xrange('rides', '-', '+')).map(([i]) => i)).toEqual([id, id2]);
  });

  it('without AOF a kill -9 loses the data', async () => {
    const srv = await startRedis();
    servers.push(srv);
    let r = client(srv.url);
    await r.xadd('rides', '*', 'type', 'RideRequested');
    r.disconnect();
    await srv.kill();
    await srv.start();
    r = client(srv.url);
    expect(await r.xlen('rides')).toBe(0);
  });
});

describe('kafka (librdkafka mock, or KAFKA_BROKERS)', () => {
  let cluster: KafkaCluster;
  let kafka: Kafka;
  const consumers: Consumer[] = [];

  beforeAll(async () => {
    cluster = await startKafka();
    kafka = new Kafka({ clientId: 'infra-test', brokers: cluster.brokers, logLevel: logLevel.NOTHING });
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.disconnect().catch(() => {})));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  function consumer(groupId: string): Consumer {
    // See kafka.ts: sessionTimeout bounds every rejoin on the mock, maxWaitTimeInMs bounds disconnect().
    const c = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 1000, maxWaitTimeInMs: 250 });
    consumers.push(c);
    return c;
  }

  /** Consumes topic in group, committing each message explicitly; returns the live list. */
  async function consume(groupId: string, topic: string) {
    const c = consumer(groupId);
    const got: { partition: number; message: KafkaMessage }[] = [];
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        got.push({ partition, message });
        await c.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      },
    });
    return { c, got };
  }

  it('reports where it runs', () => {
    expect(cluster.brokers.length).toBeGreaterThan(0);
    if (!cluster.real) for (const b of cluster.brokers) expect(b).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it(
    'produces and consumes in a group: same key in order, committed offsets survive a consumer restart',
    async () => {
      const topic = `infra-${randomUUID()}`;
      const groupId = `infra-group-${randomUUID()}`;
      const producer = kafka.producer();
      await producer.connect();
      try {
        await producer.send({
          topic,
          acks: -1,
          messages: [
            { key: 'ride-1', value: 'requested' },
            { key: 'ride-2', value: 'requested' },
            { key: 'ride-1', value: 'accepted' },
          ],
        });

        if (!cluster.real) {
          const admin = kafka.admin();
          await admin.connect();
          const meta = await admin.fetchTopicMetadata({ topics: [topic] });
          await admin.disconnect();
          expect(meta.topics[0]?.partitions).toHaveLength(4); // mock default for auto-created topics
        }

        const first = await consume(groupId, topic);
        await waitFor(() => first.got.length >= 3, '3 messages', 30_000);
        const ride1 = first.got.filter((m) => m.message.key?.toString() === 'ride-1');
        expect(ride1.map((m) => m.message.value?.toString())).toEqual(['requested', 'accepted']);
        expect(ride1[0]!.partition).toBe(ride1[1]!.partition);
        expect(BigInt(ride1[0]!.message.offset)).toBeLessThan(BigInt(ride1[1]!.message.offset));
        await first.c.disconnect();

        // The group's committed offsets equal the end of every partition.
        const admin = kafka.admin();
        await admin.connect();
        try {
          const ends = await admin.fetchTopicOffsets(topic);
          const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
          for (const end of ends.filter((e) => e.high !== '0')) {
            expect(committed!.partitions.find((p) => p.partition === end.partition)?.offset).toBe(end.high);
          }
        } finally {
          await admin.disconnect();
        }

        // Restart in the same group: only the new message arrives.
        await producer.send({ topic, acks: -1, messages: [{ key: 'ride-1', value: 'completed' }] });
        const second = await consume(groupId, topic);
        await waitFor(() => second.got.length >= 1, 'message after restart', 30_000);
        // A sentinel behind every key: anything re-delivered on a key arrives before its sentinel.
        await producer.send({ topic, acks: -1, messages: ['ride-1', 'ride-2'].map((key) => ({ key, value: 'sentinel' })) });
        const got = () => second.got.map((m) => `${m.message.key}:${m.message.value}`);
        await waitFor(() => got().includes('ride-1:sentinel') && got().includes('ride-2:sentinel'), 'the sentinels', 30_000);
        expect(got().filter((m) => m.startsWith('ride-1:'))).toEqual(['ride-1:completed', 'ride-1:sentinel']);
        expect(got().filter((m) => m.startsWith('ride-2:'))).toEqual(['ride-2:sentinel']);
      } finally {
        await producer.disconnect();
      }
    },
    90_000,
  );
});
