import { startKafka } from '../test/support/kafka.ts';
const t0 = Date.now();
const k = await startKafka();
console.log(k.brokers, Date.now() - t0);
await k.stop();
