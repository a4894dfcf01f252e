import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { eventLogContract } from './contract/event-log.contract.ts';

// Memory delivers a batch of one per event (its retry policy is per event): no batched-read check.
eventLogContract('memory', async () => getInMemoryEventLog({ retryDelayMs: 5 }), { batchedReads: false });
