import { describe, expect, it } from 'vitest';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { versionConflict } from '../domain/errors.ts';
import { handle } from '../domain/handle.ts';
import type { EventLog } from '../domain/ports/event-log.ts';
import { descriptorOf } from '../domain/streams.ts';
import { rideDecider, type RideCommand } from '../domain/ride/index.ts';

const request: RideCommand = {
  type: 'RequestRide',
  data: { rideId: 'r_1', riderId: 'u_1', pickup: { lat: 38.72, lng: -9.14 }, dropoff: { lat: 38.73, lng: -9.14 }, at: 1_000 },
};

/** A log whose append lands but whose reply is lost, and whose client resends it (ioredis does). */
function withLostReply(inner: EventLog): EventLog {
  return {
    ...inner,
    async append(stream, key, events, options) {
      await inner.append(stream, key, events, options);
      throw versionConflict(descriptorOf(stream).name, key, options?.expectedVersion ?? 0, (await inner.readKey(stream, key)).length);
    },
  };
}

describe('handle: load → decide → append', () => {
  it('given an append that landed but whose reply was lost, when the resend conflicts, then the command counts as applied once', async () => {
    const inner = getInMemoryEventLog();
    const { appended, state } = await handle(withLostReply(inner), 'rides', 'r_1', rideDecider, request);
    expect(appended.map((e) => e.type)).toEqual(['RideRequested']);
    expect(state.status).toBe('requested');
    expect(await inner.readKey('rides', 'r_1')).toHaveLength(1);
  });

  it('given another writer got there first with a different decision, then the command is decided again and refused', async () => {
    const log = getInMemoryEventLog();
    await handle(log, 'rides', 'r_1', rideDecider, { ...request, data: { ...request.data, at: 999 } });
    await expect(handle(log, 'rides', 'r_1', rideDecider, request)).rejects.toMatchObject({ code: 'RIDE_EXISTS' });
  });
});
