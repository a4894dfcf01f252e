import { describe, expect, it } from 'vitest';
import { streams, type Recorded } from '../domain/ports/event-log.ts';
import type { RideEvent } from '../domain/ride/index.ts';
import { waitFor } from './support/wait.ts';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { eventLogContract } from './contract/event-log.contract.ts';

// Memory delivers what is pending for a member as one batch.
eventLogContract('memory', async () => getInMemoryEventLog({ retryDelayMs: 5 }));

describe('typed streams', () => {
  it('hands a rides subscriber ride events and refuses, at compile time, an event of another stream', async () => {
    const log = getInMemoryEventLog();
    const seen: Recorded<RideEvent>[] = [];
    await log.subscribe(streams.rides, { group: 'g', consumer: 'c', handler: async (e) => void seen.push(e) });
    const requested: RideEvent = { type: 'RideRequested', data: { rideId: 'r_1', riderId: 'u_1', pickup: { lat: 1, lng: 2 }, dropoff: { lat: 1, lng: 3 }, at: 5 } };
    await log.append(streams.rides, 'r_1', [requested], { expectedVersion: 0 });
    // Never called: tsc checks that a driver event cannot go on the rides stream.
    // @ts-expect-error DriverFreed is not a RideEvent
    const wrongStream = () => log.append(streams.rides, 'r_1', [{ type: 'DriverFreed', data: { driverId: 'd_1', rideId: 'r_1', at: 1 } }]);
    expect(typeof wrongStream).toBe('function');
    await waitFor(() => seen.length > 0, 'the ride event');
    // The handler's event is typed: its data is read without a cast.
    expect(seen[0]!.type === 'RideRequested' && seen[0]!.data.riderId).toBe('u_1');
    expect((await log.readKey('rides', 'r_1'))[0]!.metadata).toMatchObject({ stream: 'rides', version: 1 });
    await log.close();
  });
});
