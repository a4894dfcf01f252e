import { describe, expect, it } from 'vitest';
import type { Recorded } from '../../domain/ports/event-log.ts';
import { foldRide, rideOfferMessage, rideStatusMessage, toView, type RideEvent, type RideOffered } from '../../domain/ride/index.ts';

const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
const rideId = 'r_1';
const pickup = { lat: 48.85, lng: 2.35 };
const dropoff = { lat: 48.87, lng: 2.29 };
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const story: RideEvent[] = [
  { type: 'RideRequested', data: { rideId, riderId: 'u_1', pickup, dropoff, at: T0 } },
  { type: 'RideOffered', data: { rideId, driverId: 'd_9', expiresAt: T0 + 16_000, distanceMeters: 900, etaSeconds: 130, round: 1, at: T0 + 1_000 } },
  { type: 'OfferDeclined', data: { rideId, driverId: 'd_9', at: T0 + 2_000 } },
  { type: 'RideOffered', data: { rideId, driverId: 'd_1', expiresAt: T0 + 18_000, distanceMeters: 800, etaSeconds: 120, round: 2, at: T0 + 3_000 } },
  { type: 'RideAccepted', data: { rideId, driverId: 'd_1', at: T0 + 4_000 } },
  { type: 'DriverArrived', data: { rideId, driverId: 'd_1', detected: true, at: T0 + 5_000 } },
  { type: 'TripStarted', data: { rideId, driverId: 'd_1', at: T0 + 6_000 } },
  { type: 'TripCompleted', data: { rideId, driverId: 'd_1', distanceMeters: 4_200, durationSeconds: 900, at: T0 + 7_000 } },
  { type: 'FareCalculated', data: { rideId, amount: 14.3, currency: 'EUR', distanceMeters: 4_200, durationSeconds: 900, at: T0 + 7_000 } },
  { type: 'PaymentCaptured', data: { rideId, paymentId: 'p_1', amount: 14.3, currency: 'EUR', at: T0 + 8_000 } },
  { type: 'RideRated', data: { rideId, stars: 5, comment: 'smooth', at: T0 + 9_000 } },
];
const recorded = story.map((e, i) => ({
  ...e,
  metadata: { eventId: `rides:${i + 1}-0`, stream: 'rides', position: `${i + 1}-0`, key: rideId, version: i + 1, recordedAtMs: T0 + i },
})) as Recorded<RideEvent>[];

const walk = () => foldRide(recorded);

describe("what a ride's watcher receives for each event (ride.status)", () => {
  it('status after the event, the event, its own fields minus who an offer went to, and the ride as it stands', () => {
    const messages = walk().map(({ event, ride }) => rideStatusMessage(event, ride));
    const common = (i: number, status: string, driverId: string | null) => ({
      type: 'ride.status', rideId, status, event: story[i]!.type, eventId: `rides:${i + 1}-0`, at: iso(i), pickup, dropoff, driverId,
    });
    expect(messages).toEqual([
      { ...common(0, 'requested', null), riderId: 'u_1' },
      { ...common(1, 'offered', null), expiresAt: T0 + 16_000, distanceMeters: 900, etaSeconds: 130, round: 1 },
      common(2, 'requested', null),
      { ...common(3, 'offered', null), expiresAt: T0 + 18_000, distanceMeters: 800, etaSeconds: 120, round: 2 },
      common(4, 'accepted', 'd_1'),
      { ...common(5, 'arrived', 'd_1'), detected: true },
      common(6, 'in_progress', 'd_1'),
      { ...common(7, 'completed', 'd_1'), distanceMeters: 4_200, durationSeconds: 900 },
      { ...common(7, 'completed', 'd_1'), event: 'FareCalculated', eventId: 'rides:9-0', amount: 14.3, currency: 'EUR', distanceMeters: 4_200, durationSeconds: 900 },
      { ...common(8, 'completed', 'd_1'), eventId: 'rides:10-0', event: 'PaymentCaptured', paymentId: 'p_1', amount: 14.3, currency: 'EUR' },
      { ...common(9, 'completed', 'd_1'), eventId: 'rides:11-0', event: 'RideRated', stars: 5, comment: 'smooth' },
    ]);
  });

  it('ride.offer tells the offered driver where and until when', () => {
    const [, offered] = walk();
    expect(rideOfferMessage(offered!.event as Recorded<RideOffered>, offered!.ride)).toEqual({
      type: 'ride.offer', rideId, pickup, dropoff, distanceMeters: 900, etaSeconds: 130, expiresAt: new Date(T0 + 16_000).toISOString(), eventId: 'rides:2-0',
    });
  });
});

describe('toView: the ride as the API shows it', () => {
  it('carries the times as ISO strings, the fare, payment and rating, and the live ETA when given', () => {
    const ride = walk().at(-1)!.ride;
    expect(toView(ride, 42)).toEqual({
      rideId, riderId: 'u_1', driverId: 'd_1', status: 'completed', pickup, dropoff, requestedAt: iso(0), acceptedAt: iso(4), arrivedAt: iso(5),
      startedAt: iso(6), completedAt: iso(7), cancelledAt: null, etaSeconds: 42, distanceMeters: 4_200, fare: { amount: 14.3, currency: 'EUR' },
      payment: { status: 'captured' }, rating: { stars: 5, comment: 'smooth' },
    });
    expect(toView(walk()[0]!.ride)).toMatchObject({ status: 'requested', driverId: null, acceptedAt: null, etaSeconds: null, fare: null, payment: null, rating: null });
  });
});
