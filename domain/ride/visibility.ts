import { isStaff, type Actor } from '../actor.ts';
import { DomainError, notFound } from '../errors.ts';
import { FINAL_STATUSES, type Ride, type RideState } from './state.ts';

/** Who asks: a signed-in user, or a share token that names one ride (the socket's `Peer` is one). */
export interface Viewer {
  readonly actor: Actor;
  readonly shareRideId?: string;
}

/**
 * What a viewer may see of a ride as it stands: `yes`, all of it and what follows; `last`, this
 * much and then nothing more (the watch ends here); `no`, nothing: the ride does not exist for them.
 */
export type Visibility = 'yes' | 'last' | 'no';

/**
 * Who may see a ride: its rider, its driver, the driver it is offered to, staff. A driver whose offer
 * just ended (declined, expired, cancelled while offered) sees that event and no more. A share token
 * follows its one ride until the trip ends, and sees the end. Pure; the one answer for HTTP reads,
 * commands, socket subscriptions, live push and replay.
 */
export function visibility(viewer: Viewer, ride: Ride): Visibility {
  if (viewer.shareRideId !== undefined) return viewer.shareRideId !== ride.rideId ? 'no' : FINAL_STATUSES.has(ride.status) ? 'last' : 'yes';
  const { actor } = viewer;
  if (isStaff(actor) || actor.userId === ride.riderId || actor.userId === ride.driverId || ride.offers.some((o) => o.driverId === actor.userId)) return 'yes';
  if (actor.userId === ride.offerEndedFor) return 'last';
  return 'no';
}

/**
 * The ride, when the viewer may follow it now (read it, act on it, subscribe to it). Anyone else gets
 * NOT_FOUND, so a ride's existence never leaks; a share token whose trip has ended is told so.
 */
export function mustFollow(viewer: Viewer, rideId: string, ride: RideState | null): Ride {
  if (ride && ride.status !== 'none') {
    const seen = visibility(viewer, ride);
    if (seen === 'yes') return ride;
    // Stryker disable next-line ConditionalExpression: a share token of this very ride is never 'no', so `seen === 'last'` only documents it
    if (seen === 'last' && viewer.shareRideId === ride.rideId) throw new DomainError('SHARE_EXPIRED', 403, 'this shared trip has ended');
  }
  throw notFound(`ride ${rideId}`);
}

/**
 * Whether `actor` may hand out a share token for `ride`: only its rider, and only while such a token
 * would still follow the ride (the trip has not ended).
 */
export function shareable(actor: Actor, ride: Ride): 'yes' | 'not-theirs' | 'ended' {
  if (actor.userId !== ride.riderId) return 'not-theirs';
  return visibility({ actor, shareRideId: ride.rideId }, ride) === 'yes' ? 'yes' : 'ended';
}
