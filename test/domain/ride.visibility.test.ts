import { describe, expect, it } from 'vitest';
import type { Actor } from '../../domain/actor.ts';
import { fold } from '../../domain/decider.ts';
import { mustFollow, rideDecider, shareable, visibility, type Ride, type RideEvent, type Viewer } from '../../domain/ride/index.ts';

const rideId = 'r_1';
const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
const pickup = { lat: 48.8566, lng: 2.3522 };
const dropoff = { lat: 48.8738, lng: 2.295 };

const e = {
  requested: (): RideEvent => ({ type: 'RideRequested', data: { rideId, riderId: 'u_rider', pickup, dropoff, at: T0 } }),
  offered: (driverId: string, round: number): RideEvent => ({
    type: 'RideOffered', data: { rideId, driverId, expiresAt: T0 + 60_000, distanceMeters: 800, etaSeconds: 120, round, at: T0 },
  }),
  declined: (driverId: string): RideEvent => ({ type: 'OfferDeclined', data: { rideId, driverId, at: T0 } }),
  expired: (driverId: string): RideEvent => ({ type: 'OfferExpired', data: { rideId, driverId, at: T0 } }),
  accepted: (driverId: string): RideEvent => ({ type: 'RideAccepted', data: { rideId, driverId, at: T0 } }),
  started: (driverId: string): RideEvent => ({ type: 'TripStarted', data: { rideId, driverId, at: T0 } }),
  completed: (driverId: string): RideEvent => ({ type: 'TripCompleted', data: { rideId, driverId, distanceMeters: 1, durationSeconds: 1, at: T0 } }),
  rated: (): RideEvent => ({ type: 'RideRated', data: { rideId, stars: 5, comment: null, at: T0 } }),
  cancelled: (): RideEvent => ({ type: 'RideCancelled', data: { rideId, by: 'rider', reason: null, at: T0 } }),
  unmatched: (rounds: number): RideEvent => ({ type: 'RideUnmatched', data: { rideId, rounds, at: T0 } }),
};

const actor = (userId: string, role: Actor['role']): Viewer => ({ actor: { userId, role } });
const viewers = {
  rider: actor('u_rider', 'rider'),
  'other rider': actor('u_other', 'rider'),
  'd_1 (first offer)': actor('d_1', 'driver'),
  'd_2 (second offer, then driver)': actor('d_2', 'driver'),
  'other driver': actor('d_9', 'driver'),
  admin: actor('u_admin', 'admin'),
  service: actor('system', 'service'),
  'share token of r_1': { actor: { userId: 'share:r_1', role: 'rider' }, shareRideId: rideId },
  'share token of r_2': { actor: { userId: 'share:r_2', role: 'rider' }, shareRideId: 'r_2' },
  /** A share token's subject never names a user; even if it did, the token sees its ride only. */
  'share token of r_2 held by the rider': { actor: { userId: 'u_rider', role: 'rider' }, shareRideId: 'r_2' },
} satisfies Record<string, Viewer>;
type ViewerName = keyof typeof viewers;

const histories = {
  requested: [e.requested()],
  'offered to d_1': [e.requested(), e.offered('d_1', 1)],
  'd_1 just declined': [e.requested(), e.offered('d_1', 1), e.declined('d_1')],
  'd_1 just let it expire': [e.requested(), e.offered('d_1', 1), e.expired('d_1')],
  'offered to d_2 after d_1 declined': [e.requested(), e.offered('d_1', 1), e.declined('d_1'), e.offered('d_2', 2)],
  'accepted by d_2': [e.requested(), e.offered('d_1', 1), e.declined('d_1'), e.offered('d_2', 2), e.accepted('d_2')],
  'in progress': [e.requested(), e.offered('d_2', 1), e.accepted('d_2'), e.started('d_2')],
  completed: [e.requested(), e.offered('d_2', 1), e.accepted('d_2'), e.started('d_2'), e.completed('d_2')],
  'completed, then rated': [e.requested(), e.offered('d_2', 1), e.accepted('d_2'), e.started('d_2'), e.completed('d_2'), e.rated()],
  'cancelled while offered to d_1': [e.requested(), e.offered('d_1', 1), e.cancelled()],
  'unmatched after d_1 declined': [e.requested(), e.offered('d_1', 1), e.declined('d_1'), e.unmatched(1)],
} satisfies Record<string, RideEvent[]>;
type StateName = keyof typeof histories;

const rideAfter = (name: StateName) => fold(rideDecider, histories[name]) as Ride;

// Columns: rider, other rider, d_1, d_2, other driver, admin, service, share r_1, share r_2, share r_2 (rider).
const Y = 'yes', L = 'last', N = 'no';
const table: Record<StateName, readonly string[]> = {
  //                                    rider oth  d_1 d_2 d_9 adm svc sh1 sh2 sh2r
  requested:                           [Y,    N,   N,  N,  N,  Y,  Y,  Y,  N,  N],
  'offered to d_1':                    [Y,    N,   Y,  N,  N,  Y,  Y,  Y,  N,  N],
  'd_1 just declined':                 [Y,    N,   L,  N,  N,  Y,  Y,  Y,  N,  N],
  'd_1 just let it expire':            [Y,    N,   L,  N,  N,  Y,  Y,  Y,  N,  N],
  'offered to d_2 after d_1 declined': [Y,    N,   N,  Y,  N,  Y,  Y,  Y,  N,  N],
  'accepted by d_2':                   [Y,    N,   N,  Y,  N,  Y,  Y,  Y,  N,  N],
  'in progress':                       [Y,    N,   N,  Y,  N,  Y,  Y,  Y,  N,  N],
  completed:                           [Y,    N,   N,  Y,  N,  Y,  Y,  L,  N,  N],
  'completed, then rated':             [Y,    N,   N,  Y,  N,  Y,  Y,  L,  N,  N],
  'cancelled while offered to d_1':    [Y,    N,   L,  N,  N,  Y,  Y,  L,  N,  N],
  'unmatched after d_1 declined':      [Y,    N,   N,  N,  N,  Y,  Y,  L,  N,  N],
};

describe('visibility: who may see a ride, over viewers × ride states', () => {
  const names = Object.keys(viewers) as ViewerName[];
  for (const state of Object.keys(table) as StateName[]) {
    it(`${state}`, () => {
      const ride = rideAfter(state);
      const got = names.map((v) => visibility(viewers[v], ride));
      expect(Object.fromEntries(names.map((v, i) => [v, got[i]]))).toEqual(Object.fromEntries(names.map((v, i) => [v, table[state][i]])));
    });
  }
});

describe('mustFollow: reading, acting on and subscribing to a ride', () => {
  it('gives the ride to whoever may see it and all that follows', () => {
    const ride = rideAfter('offered to d_1');
    expect(mustFollow(viewers['d_1 (first offer)'], rideId, ride)).toBe(ride);
    expect(mustFollow(viewers['share token of r_1'], rideId, ride)).toBe(ride);
  });

  it('answers NOT_FOUND to everyone else, including a driver whose offer just ended, and for a ride that does not exist', () => {
    const notFound = { code: 'NOT_FOUND', statusCode: 404 };
    expect(() => mustFollow(viewers['other rider'], rideId, rideAfter('in progress'))).toThrow(expect.objectContaining(notFound));
    expect(() => mustFollow(viewers['d_1 (first offer)'], rideId, rideAfter('d_1 just declined'))).toThrow(expect.objectContaining(notFound));
    expect(() => mustFollow(viewers['share token of r_2'], rideId, rideAfter('in progress'))).toThrow(expect.objectContaining(notFound));
    expect(() => mustFollow(viewers.admin, rideId, null)).toThrow(expect.objectContaining(notFound));
    expect(() => mustFollow(viewers.admin, rideId, { status: 'none' })).toThrow(expect.objectContaining(notFound));
  });

  it('tells a share token that its trip has ended', () => {
    expect(() => mustFollow(viewers['share token of r_1'], rideId, rideAfter('completed'))).toThrow(
      expect.objectContaining({ code: 'SHARE_EXPIRED', statusCode: 403 }),
    );
  });
});

describe('shareable: who may hand out a share token', () => {
  it('the rider, while the trip runs', () => {
    expect(shareable(viewers.rider.actor, rideAfter('in progress'))).toBe('yes');
    expect(shareable(viewers.rider.actor, rideAfter('requested'))).toBe('yes');
  });
  it('nobody once it has ended', () => {
    for (const state of ['completed', 'cancelled while offered to d_1', 'unmatched after d_1 declined'] as const)
      expect(shareable(viewers.rider.actor, rideAfter(state))).toBe('ended');
  });
  it('nobody but the rider', () => {
    expect(shareable(viewers.admin.actor, rideAfter('in progress'))).toBe('not-theirs');
    expect(shareable(viewers['d_2 (second offer, then driver)'].actor, rideAfter('in progress'))).toBe('not-theirs');
  });
});
