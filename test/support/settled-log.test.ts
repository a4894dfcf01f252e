import { describe, expect, it } from 'vitest';
import { getInMemoryEventLog } from '../../adapters/memory/event-log.ts';
import { opaque } from './opaque-log.ts';
import { settledLog } from './settled-log.ts';
import { waitFor } from './wait.ts';

describe('settledLog (test support)', () => {
  it('is settled only once every subscription has handled everything appended to its stream', async () => {
    const log = opaque(settledLog(getInMemoryEventLog()));
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const sub = await log.subscribe('rides', { group: 'slow', consumer: 'c1', handler: () => gate });
    expect(log.settled()).toBe(true);
    await log.append('rides', 'r_1', [{ type: 'Numbered', data: { n: 1 } }]);
    expect(log.settled()).toBe(false);
    await waitFor(async () => (await log.read('rides')).length === 1, 'the append');
    expect(log.settled()).toBe(false);
    release();
    await waitFor(() => log.settled(), 'the handler to finish');
    await log.append('drivers', 'd_1', [{ type: 'Numbered', data: { n: 1 } }]); // nobody follows drivers here
    expect(log.settled()).toBe(true);
    await sub.close();
    await log.close();
  });
});
