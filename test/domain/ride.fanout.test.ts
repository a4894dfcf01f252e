import { describe, expect, it } from 'vitest';
import type { Actor } from '../../domain/actor.ts';
import { fold } from '../../domain/decider.ts';
import { rideDecider, visibility, type Ride, type RideCommand, type RideEvent } from '../../domain/ride/index.ts';

const rideId = 'r_fan';
const rider: Actor = { userId: 'u_rider', role: 'rider' };
const driver = (id: string): Actor => ({ userId: id, role: 'driver' });
const requested: RideEvent = { type: 'RideRequested', data: { rideId, riderId: rider.userId, pickup: { lat: 0, lng: 0 }, dropoff: { lat: 0.01, lng: 0.01 }, at: 0 } };
const offer = (driverId: string, fanout = 3): RideCommand => ({ type: 'OfferRide', data: { rideId, driverId, expiresAt: 15_000, distanceMeters: 100, etaSeconds: 30, fanout, at: 10 } });

/** Runs commands in turn, each on the fold of what came before; returns every event and the ride. */
function run(commands: RideCommand[]): { events: RideEvent[]; ride: Ride } {
  const events: RideEvent[] = [requested];
  for (const c of commands) events.push(...rideDecider.decide(c, fold(rideDecider, events)));
  return { events, ride: fold(rideDecider, events) as Ride };
}

describe('offer fan-out: one ride offered to K held drivers at once, first accept wins', () => {
  it('K offers join one round; each driver sees the ride while their offer is open', () => {
    const { events, ride } = run([offer('a'), offer('b'), offer('c')]);
    expect(events.filter((e) => e.type === 'RideOffered').map((e) => (e.data as { round: number }).round)).toEqual([1, 1, 1]);
    expect(ride.offers.map((o) => o.driverId)).toEqual(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c']) expect(visibility({ actor: driver(id) }, ride)).toBe('yes');
    // No more than K, and never the same driver twice.
    expect(() => run([offer('a'), offer('b'), offer('c'), offer('d')])).toThrow(/cannot offer/);
    expect(() => run([offer('a'), offer('a')])).toThrow(/cannot offer/);
  });

  it('with fan-out 1 (the default) an offered ride takes no second offer, as before', () => {
    expect(() => run([offer('a', 1), offer('b', 1)])).toThrow(/cannot offer/);
  });

  it('the first accept withdraws the other offers in the same append, before the acceptance', () => {
    const before = run([offer('a'), offer('b'), offer('c')]);
    const appended = rideDecider.decide({ type: 'AcceptRide', data: { rideId, actor: driver('b'), driverOnline: true, at: 20 } }, before.ride);
    expect(appended.map((e) => [e.type, (e.data as { driverId: string }).driverId, (e.data as { reason?: string }).reason])).toEqual([
      ['OfferWithdrawn', 'a', 'accepted'],
      ['OfferWithdrawn', 'c', 'accepted'],
      ['RideAccepted', 'b', undefined],
    ]);
    const events = [...before.events, ...appended];
    const after = fold(rideDecider, events) as Ride;
    expect(after).toMatchObject({ status: 'accepted', driverId: 'b', offers: [], withdrawn: ['a', 'c'], passedBy: [] });
    // A withdrawn driver sees their withdrawal as the last of the ride, and nothing of the acceptance.
    expect(visibility({ actor: driver('a') }, fold(rideDecider, events.slice(0, -2)) as Ride)).toBe('last');
    expect(visibility({ actor: driver('a') }, after)).toBe('no');
    // Accepting later is a clear 409, not a 404.
    expect(() => rideDecider.decide({ type: 'AcceptRide', data: { rideId, actor: driver('a'), driverOnline: true, at: 21 } }, after)).toThrow(
      expect.objectContaining({ code: 'OFFER_EXPIRED', statusCode: 409 }),
    );
  });

  it('a decline or expiry ends one offer; the ride stays offered while others are open', () => {
    const { ride } = run([offer('a'), offer('b'), { type: 'DeclineOffer', data: { rideId, actor: driver('a'), at: 12 } }]);
    expect(ride).toMatchObject({ status: 'offered', offers: [{ driverId: 'b' }], passedBy: ['a'] });
    const expired = run([offer('a'), offer('b'), { type: 'ExpireOffer', data: { rideId, driverId: 'a', at: 15_000 } }, { type: 'ExpireOffer', data: { rideId, driverId: 'b', at: 15_000 } }]);
    expect(expired.ride).toMatchObject({ status: 'requested', offers: [], passedBy: ['a', 'b'] });
  });

  it('cancelling withdraws the fanned-out offers; the first offer’s driver sees the cancellation as before', () => {
    const { events, ride } = run([offer('a'), offer('b'), { type: 'CancelRide', data: { rideId, actor: rider, reason: null, at: 30 } }]);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['OfferWithdrawn', 'RideCancelled']);
    expect(ride).toMatchObject({ status: 'cancelled', offers: [], withdrawn: ['b'], offerEndedFor: 'a' });
  });
});
