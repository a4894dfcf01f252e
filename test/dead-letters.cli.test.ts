// The operator's tool against a real redis-server: list the dead letters, replay one to its group.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opaque, type OpaqueLog } from './support/opaque-log.ts';
import { getRedisEventLog, type RedisEventLog } from '../adapters/redis/event-log.ts';
import type { Recorded } from '../domain/ports/event-log.ts';
import { PermanentFailure } from '../domain/failures.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { waitFor } from './support/wait.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

describe('npm run dead-letters (Redis)', () => {
  let redis: RedisServer;
  let log: OpaqueLog<RedisEventLog>;
  const prefix = `dl${process.pid}:`;
  const tool = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/dead-letters.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', TRANSPORT: 'redis', REDIS_URL: redis.url, STREAM_PREFIX: prefix },
      timeout: 30_000,
    });

  beforeAll(async () => {
    redis = await startRedis();
    log = opaque(getRedisEventLog({ url: redis.url, prefix, claimIdleMs: 300, blockMs: 500, maxDeliveries: 2, logger: { warn() {}, error() {} } }));
  });
  afterAll(async () => {
    await log?.close();
    await redis?.stop();
  });

  it('lists a dead letter with its group and reason, and replays it to that group once the cause is fixed', async () => {
    let fixed = false;
    const handled: Recorded[] = [];
    const sub = await log.subscribe('rides', {
      group: 'reactions',
      consumer: 'c1',
      handler: async (e) => {
        if (e.type === 'Poison' && !fixed) throw new PermanentFailure('driver d_1 is already on ride r_0');
        handled.push(e);
      },
    });
    try {
      const [poison] = await log.append('rides', 'r_1', [{ type: 'Poison', data: { n: 1 } }]);
      await waitFor(async () => (await log.deadLetters('rides')).length === 1, 'the dead letter', 10_000);
      const [dead] = await log.deadLetters('rides');

      const listed = await tool('list');
      expect(listed.stdout).toContain(dead!.id);
      expect(listed.stdout).toContain('group=reactions');
      expect(listed.stdout).toContain(`Poison r_1 ${poison!.metadata.eventId}`);
      expect(listed.stdout).toContain('driver d_1 is already on ride r_0');
      expect(listed.stdout).toContain('1 dead letter');
      const asJson = (await tool('list', 'rides', '--json')).stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
      expect(asJson).toEqual([JSON.parse(JSON.stringify(dead))]);

      fixed = true;
      expect((await tool('replay', dead!.id)).stdout).toContain(`replayed ${dead!.id}`);
      await waitFor(() => handled.length === 1, 'the replayed event', 10_000);
      expect(handled[0]).toEqual(poison);
      expect((await tool('list')).stdout).toContain('0 dead letters');
      await expect(tool('replay', dead!.id)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining(`no dead letter ${dead!.id}`) });
    } finally {
      await sub.close();
    }
  }, 90_000);
});
