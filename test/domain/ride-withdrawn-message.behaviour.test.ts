import { describe, expect, it } from 'vitest';
import type { Recorded } from '../../domain/ports/event-log.ts';
import { rideOfferWithdrawnMessage, type OfferWithdrawn } from '../../domain/ride/index.ts';

/** What a driver whose fanned-out offer was taken back receives: why and when, and nothing else of the ride. */
describe('ride.offer.withdrawn', () => {
  it('names the ride, the reason and the time, never the driver who won it', () => {
    const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
    const event = {
      type: 'OfferWithdrawn',
      data: { rideId: 'r_1', driverId: 'd_2', reason: 'accepted', at: T0 + 5_000 },
      metadata: { eventId: 'rides:4-0', stream: 'rides', position: '4-0', key: 'r_1', version: 4, recordedAtMs: T0 + 5_001 },
    } as Recorded<OfferWithdrawn>;
    expect(rideOfferWithdrawnMessage(event)).toStrictEqual({
      type: 'ride.offer.withdrawn',
      rideId: 'r_1',
      reason: 'accepted',
      at: new Date(T0 + 5_000).toISOString(),
      eventId: 'rides:4-0',
    });
  });
});
