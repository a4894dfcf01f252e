import { getKafkaEventLog } from '../adapters/kafka/event-log.ts';
import { startKafka } from '../test/support/kafka.ts';
const k = await startKafka();
const log = getKafkaEventLog({ brokers: k.brokers, topicPrefix: 'p.', createTopics: false, idempotent: false, consumer: { sessionTimeoutMs: 4000, heartbeatIntervalMs: 300, maxWaitTimeMs: 100 } });
await log.append('rides', 'r_1', [{ type: 'N', data: { n: 1 } }]);
const results: number[][] = [];
await Promise.all([1, 2, 3].map(async (g) => {
  const seen: number[] = [];
  const sub = await log.subscribe('rides', { group: 'live' + g, consumer: 'x', from: 'end', handler: async (e) => void seen.push((e.data as { n: number }).n) });
  await log.append('rides', 'r_1', [{ type: 'N', data: { n: 10 + g } }]);
  await new Promise((r) => setTimeout(r, 1500));
  results.push(seen);
  await sub.close();
}));
console.log(JSON.stringify(results));
const t = Date.now(); await log.close(); console.log('close', Date.now() - t); await k.stop();
