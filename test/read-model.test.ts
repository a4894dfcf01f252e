import { afterAll, describe } from 'vitest';
import { getInMemoryReadModel } from '../adapters/memory/read-model.ts';
import { getMongoReadModel } from '../adapters/mongo/read-model.ts';
import { readModelContract } from './contract/read-model.contract.ts';

readModelContract('memory', async () => getInMemoryReadModel());

// MongoDB runs only against a server you point it at (none can be installed in this sandbox).
const url = process.env.MONGO_URL;
const SKIPPED = 'MongoDB read-model contract SKIPPED: MONGO_URL is not set (e.g. MONGO_URL=mongodb://127.0.0.1:27017 npx vitest run test/read-model.test.ts)';
if (!url) console.warn(SKIPPED);

describe.skipIf(!url)(url ? 'mongodb' : SKIPPED, () => {
  // A database of its own per run, dropped at the end.
  const dbName = `ridecast_test_${process.pid}_${Date.now()}`;
  readModelContract('mongodb', async () => getMongoReadModel({ url: url!, dbName, trackRetentionSeconds: 3600 }));
  afterAll(async () => {
    const rm = getMongoReadModel({ url: url!, dbName });
    await rm.dropDatabase();
    await rm.close();
  });
});
