import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { eventLogContract } from './contract/event-log.contract.ts';

eventLogContract('memory', async () => getInMemoryEventLog({ retryDelayMs: 5 }), { settleMs: 50 });
