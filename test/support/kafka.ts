// Kafka for tests: librdkafka's mock cluster (via test/support/kafka-mock.c),
// or a real cluster when KAFKA_BROKERS (comma-separated host:port) is set.
//
// kafkajs 2.2.4 against the librdkafka 2.0.2 mock (verified in infra.test.ts):
//  - Works as-is: produce (acks 0/1/-1), topic auto-creation on first Metadata
//    request (allowAutoTopicCreation, the default), Fetch, ListOffsets, consumer
//    groups (JoinGroup/SyncGroup/Heartbeat/LeaveGroup), OffsetCommit/OffsetFetch,
//    rebalance across several consumers, admin.fetchTopicMetadata/listTopics/
//    fetchTopicOffsets/fetchOffsets.
//  - Auto-created topics get 4 partitions (replication min(3, brokers)). For another
//    count pass startKafka({ topics: { rides: 8 } }) -- admin.createTopics does NOT
//    work (mock has no CreateTopics, and see the controller issue below).
//  - consumer: use { sessionTimeout: 6000, heartbeatInterval: 1000 }. The mock holds
//    the first JoinGroup of an empty group 3 s (fixed), and any later (re)join
//    -- a 2nd member, or a restart in the same group -- for sessionTimeout - 1000 ms.
//    kafkajs' default 30000 means ~29 s per rebalance. 6000 is also the minimum a
//    real broker accepts (group.min.session.timeout.ms), so it works for both.
//  - consumer maxWaitTimeInMs: ~250 in tests. disconnect() waits for the in-flight
//    Fetch, which the mock (like a real broker) holds up to maxWaitTimeInMs (default
//    5000), so the default makes every consumer stop take ~5 s.
//  - logLevel: NOTHING. Even at WARN kafkajs logs ERROR lines for the normal
//    REBALANCE_IN_PROGRESS heartbeats of a rebalance.
//  - Set KAFKAJS_NO_PARTITIONER_WARNING=1 (or pass createPartitioner) to silence the
//    v2 partitioner warning. Same key -> same partition (murmur2), order kept.
//  - Do NOT use idempotent: true. The mock reports ControllerId 0 while broker ids
//    start at 1, so anything kafkajs sends to the controller fails with
//    "KafkaJSBrokerNotFound: Broker 0 not found in the cached metadata": idempotent
//    producer connect (InitProducerId), admin create/delete topics/partitions.
//  - Transactions (transactionalId without idempotent) "succeed" but are not real:
//    aborted records are delivered to read-committed consumers, and
//    sendOffsets (TxnOffsetCommit) does not change the group's committed offsets.
//  - admin.describeGroups is unsupported (DescribeGroups not implemented).
//  - Everything is in memory: data is gone after stop(); no retention/compaction.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export interface KafkaCluster {
  brokers: string[];
  /** true when KAFKA_BROKERS points at a real cluster (stop() is then a no-op). */
  real: boolean;
  /** Mock only: the broker process, for fault tests (SIGSTOP / SIGCONT). */
  pid?: number;
  stop(): Promise<void>;
}

export interface KafkaOptions {
  /** Mock only: number of mock brokers (default 1). */
  brokers?: number;
  /** Mock only: topics to pre-create with the given partition count. */
  topics?: Record<string, number>;
}

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const SOURCE = join(here, 'kafka-mock.c');
const BINARY = join(root, 'node_modules', '.cache', 'ridecast', 'kafka-mock');

const live = new Set<ChildProcess>();
let hooked = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

async function mtime(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Compiles the launcher if missing or older than its source; returns its path. */
export async function buildKafkaMock(): Promise<string> {
  const bin = await mtime(BINARY);
  const src = await mtime(SOURCE);
  if (src === undefined) throw new Error(`missing ${SOURCE}`);
  if (bin !== undefined && bin >= src) return BINARY;
  await mkdir(dirname(BINARY), { recursive: true });
  // Build to a private name, then rename: parallel workers never see a half-written file.
  const tmp = `${BINARY}.${process.pid}.${Date.now()}`;
  try {
    await promisify(execFile)('gcc', ['-O2', '-Wall', '-o', tmp, SOURCE, '-lrdkafka']);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(
      `building the Kafka mock launcher failed (needs gcc + librdkafka-dev, see scripts/ensure-system-deps.sh):\n${err.stderr ?? err.message}`,
    );
  }
  await rename(tmp, BINARY);
  return BINARY;
}

export async function startKafka(opts: KafkaOptions = {}): Promise<KafkaCluster> {
  const external = process.env.KAFKA_BROKERS?.trim();
  if (external) {
    return {
      brokers: external.split(',').map((s) => s.trim()).filter(Boolean),
      real: true,
      stop: async () => {},
    };
  }

  const bin = await buildKafkaMock();
  const args = [String(opts.brokers ?? 1)];
  for (const [topic, partitions] of Object.entries(opts.topics ?? {})) args.push(`${topic}:${partitions}`);
  // stdin stays a pipe: the launcher exits when it closes (also if this process dies).
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  track(child);

  const bootstrap = await new Promise<string>((resolve, reject) => {
    let out = '';
    let errOut = '';
    const timer = setTimeout(() => fail(new Error(`kafka-mock printed no address within 10s\n${errOut}`)), 10_000);
    function fail(e: Error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    }
    child.stderr!.on('data', (b: Buffer) => {
      if (errOut.length < 20_000) errOut += b.toString();
    });
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl).trim());
      }
    });
    child.once('error', (e) => fail(e));
    child.once('exit', (code, sig) => fail(new Error(`kafka-mock exited (${code ?? sig}) before printing an address\n${errOut}`)));
  });

  return {
    brokers: bootstrap.split(',').filter(Boolean),
    real: false,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await done;
      clearTimeout(timer);
    },
  };
}
