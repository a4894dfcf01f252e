import { describe, expect, it } from 'vitest';
// Loaded inside each test, so a module that fails to load fails the tests (not just the file).
const load = () => import('../../domain/streams.ts');

// What an adapter (and an operator replaying dead letters) relies on when it asks about a stream.
describe('the log’s streams, as adapters see them', () => {
  it('are exactly rides, drivers and driver-locations', async () => {
    const { STREAMS } = await load();
    expect([...STREAMS].sort()).toEqual(['driver-locations', 'drivers', 'rides']);
  });

  it('rides and drivers keep entity histories for a long time, on one key space each', async () => {
    const { descriptorOf } = await load();
    for (const name of ['rides', 'drivers'] as const) {
      expect(descriptorOf(name)).toEqual({ name, keepsHistory: true, sharded: false, retention: 'long' });
    }
  });

  it('GPS points keep no history, spread over shards, and are kept briefly', async () => {
    const { descriptorOf } = await load();
    expect(descriptorOf('driver-locations')).toEqual({ name: 'driver-locations', keepsHistory: false, sharded: true, retention: 'short' });
  });

  it('a stream named by its descriptor or by its name is the same stream', async () => {
    const { STREAMS, descriptorOf, streams } = await load();
    for (const name of STREAMS) {
      expect(descriptorOf({ name })).toBe(streams[name]);
      expect(descriptorOf(name)).toBe(streams[name]);
    }
  });

  it('operator input names a stream only when it is one of the three', async () => {
    const { isStreamName } = await load();
    expect(isStreamName('rides')).toBe(true);
    expect(isStreamName('driver-locations')).toBe(true);
    expect(isStreamName('payments')).toBe(false);
    expect(isStreamName('toString')).toBe(false); // inherited, not a stream
    expect(isStreamName('')).toBe(false);
  });
});
