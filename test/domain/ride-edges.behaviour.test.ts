import { describe, expect, it } from 'vitest';
import type { Recorded } from '../../domain/ports/event-log.ts';
import { foldRide, mustFollow, rideStatusMessage, shareable, toView, visibility, type RideEvent } from '../../domain/ride/index.ts';

const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
const rideId = 'r_1';
const pickup = { lat: 48.85, lng: 2.35 };
const dropoff = { lat: 48.87, lng: 2.29 };
const rec = (events: RideEvent[]) =>
  events.map((e, i) => ({
    ...e,
    metadata: { eventId: `rides:${i + 1}-0`, stream: 'rides', position: `${i + 1}-0`, key: rideId, version: i + 1, recordedAtMs: T0 + i },
  })) as Recorded<RideEvent>[];
const requested: RideEvent = { type: 'RideRequested', data: { rideId, riderId: 'u_1', pickup, dropoff, at: T0 } };
const offered: RideEvent = { type: 'RideOffered', data: { rideId, driverId: 'd_9', expiresAt: T0 + 16_000, distanceMeters: 900, etaSeconds: 130, round: 1, at: T0 + 1_000 } };
const expired: RideEvent = { type: 'OfferExpired', data: { rideId, driverId: 'd_9', at: T0 + 16_000 } };
const cancelled: RideEvent = { type: 'RideCancelled', data: { rideId, by: 'rider', reason: 'late', at: T0 + 20_000 } };

describe('what the rider’s socket is never told', () => {
  it('an expired offer does not say whom it went to', () => {
    const steps = foldRide(rec([requested, offered, expired]));
    const m = rideStatusMessage(steps[2]!.event, steps[2]!.ride);
    expect(m).toEqual({ type: 'ride.status', rideId, status: 'requested', event: 'OfferExpired', eventId: 'rides:3-0', at: new Date(T0 + 16_000).toISOString(), pickup, dropoff, driverId: null });
  });
});

describe('a cancelled ride in the API', () => {
  it('shows when it was cancelled; the rest stays empty', () => {
    const ride = foldRide(rec([requested, cancelled])).at(-1)!.ride;
    expect(toView(ride)).toMatchObject({ status: 'cancelled', cancelledAt: new Date(T0 + 20_000).toISOString(), acceptedAt: null, arrivedAt: null, startedAt: null, completedAt: null });
  });
});

describe('who may follow a ride, at its edges', () => {
  const open = foldRide(rec([requested])).at(-1)!.ride;
  const ended = foldRide(rec([requested, cancelled])).at(-1)!.ride;
  const rider = { userId: 'u_1', role: 'rider' as const };
  const stranger = { userId: 'u_2', role: 'rider' as const };

  it('a share token of an ended trip is told so; anyone else of no ride is told it does not exist', () => {
    expect(() => mustFollow({ actor: stranger, shareRideId: rideId }, rideId, ended)).toThrow('this shared trip has ended');
    expect(() => mustFollow({ actor: stranger, shareRideId: rideId }, rideId, ended)).toThrow(expect.objectContaining({ code: 'SHARE_EXPIRED', statusCode: 403 }));
    expect(() => mustFollow({ actor: stranger }, rideId, open)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => mustFollow({ actor: rider }, rideId, null)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => mustFollow({ actor: rider }, rideId, { status: 'none' })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(mustFollow({ actor: rider }, rideId, open)).toBe(open);
    expect(mustFollow({ actor: stranger, shareRideId: rideId }, rideId, open)).toBe(open);
  });

  it('a driver whose offer just ended is not told the ride exists when they try to follow it', () => {
    const afterExpiry = foldRide(rec([requested, offered, expired])).at(-1)!.ride;
    const d9 = { actor: { userId: 'd_9', role: 'driver' as const } };
    expect(visibility(d9, afterExpiry)).toBe('last');
    expect(() => mustFollow(d9, rideId, afterExpiry)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('only the rider may share, and only while the trip is on', () => {
    expect(shareable(rider, open)).toBe('yes');
    expect(shareable(rider, ended)).toBe('ended');
    expect(shareable(stranger, open)).toBe('not-theirs');
    expect(shareable({ userId: 'admin', role: 'admin' }, open)).toBe('not-theirs');
  });
});
