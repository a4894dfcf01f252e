import { isStaff, type Actor } from '../actor.ts';
import { DomainError, forbidden, invalidTransition, notFound } from '../errors.ts';
import { computeFare } from '../fare.ts';
import type * as C from './commands.ts';
import type { RideEvent } from './events.ts';
import { offerLapsed, offerOpen } from './offer.ts';
import { FINAL_STATUSES, type Ride, type RideState, type RideStatus } from './state.ts';
import { mustFollow } from './visibility.ts';

/** Decides what a command means for a ride: the events to append, or a typed error. Pure. */
export function decide(command: C.RideCommand, state: RideState): RideEvent[] {
  if (command.type === 'RequestRide') return requestRide(command, state);
  if (state.status === 'none') throw notFound(`ride ${command.data.rideId}`);
  switch (command.type) {
    case 'OfferRide':
      return offerRide(command, state);
    case 'DeclineOffer':
      return declineOffer(command, state);
    case 'ExpireOffer':
      return expireOffer(command, state);
    case 'AcceptRide':
      return acceptRide(command, state);
    case 'ArriveAtPickup':
      return arriveAtPickup(command, state);
    case 'StartTrip':
      return startTrip(command, state);
    case 'CompleteTrip':
      return completeTrip(command, state);
    case 'CancelRide':
      return cancelRide(command, state);
    case 'MarkUnmatched':
      return markUnmatched(command, state);
    case 'RecordPayment':
      return recordPayment(command, state);
    case 'RateRide':
      return rateRide(command, state);
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${(unknown as { type: string }).type}`);
    }
  }
}

/** Who may see the ride (visibility.ts): anyone else gets NOT_FOUND, so a ride's existence never leaks. */
function mustSee(actor: Actor, ride: Ride): void {
  mustFollow({ actor }, ride.rideId, ride);
}

function mustBe(ride: Ride, allowed: readonly RideStatus[], doing: string): void {
  if (!allowed.includes(ride.status)) throw invalidTransition(`ride ${ride.rideId} is ${ride.status}; cannot ${doing}`);
}

function mustBeAssignedDriver(actor: Actor, ride: Ride): void {
  mustSee(actor, ride);
  if (actor.userId !== ride.driverId && !isStaff(actor)) throw forbidden(`only the assigned driver may do this`);
}

function requestRide({ data }: C.RequestRide, state: RideState): RideEvent[] {
  if (state.status !== 'none') throw new DomainError('RIDE_EXISTS', 409, `ride ${data.rideId} already exists`);
  return [{ type: 'RideRequested', data }];
}

/**
 * A requested ride opens a round of offers; with fan-out (`fanout` > 1) more drivers join the open
 * round until it has `fanout` open offers. With the default of 1, an offered ride takes no other.
 */
function offerRide({ data }: C.OfferRide, ride: Ride): RideEvent[] {
  const { fanout = 1, ...offer } = data;
  const joins = ride.status === 'offered' && ride.offers.length < fanout && !ride.offers.some((o) => o.driverId === data.driverId);
  if (!joins) mustBe(ride, ['requested'], 'offer');
  if (ride.passedBy.includes(data.driverId) || ride.withdrawn.includes(data.driverId))
    throw invalidTransition(`driver ${data.driverId} already passed on ride ${ride.rideId}`);
  return [{ type: 'RideOffered', data: { ...offer, round: joins ? ride.rounds : ride.rounds + 1 } }];
}

/** The driver's open offer, if any. A ride has open offers only while it is `offered` (state.ts), so this also says it is offered. */
const openOfferOf = (ride: Ride, driverId: string) => ride.offers.find((o) => o.driverId === driverId) ?? null;

/** The open offers other than `driverId`'s, withdrawn (fan-out: they make way for an acceptance or a cancellation). */
const withdrawOthers = (ride: Ride, driverId: string | null, reason: 'accepted' | 'cancelled', at: number): RideEvent[] =>
  ride.offers.filter((o) => o.driverId !== driverId).map((o) => ({ type: 'OfferWithdrawn', data: { rideId: ride.rideId, driverId: o.driverId, reason, at } }));

function declineOffer({ data }: C.DeclineOffer, ride: Ride): RideEvent[] {
  mustSee(data.actor, ride);
  if (!openOfferOf(ride, data.actor.userId))
    throw invalidTransition(`ride ${ride.rideId} is ${ride.status}; cannot decline`);
  return [{ type: 'OfferDeclined', data: { rideId: ride.rideId, driverId: data.actor.userId, at: data.at } }];
}

/** Expiry is idempotent: an offer that was already answered or replaced expires into nothing. */
function expireOffer({ data }: C.ExpireOffer, ride: Ride): RideEvent[] {
  const offer = openOfferOf(ride, data.driverId);
  if (!offer || !offerLapsed(offer, data.at)) return [];
  return [{ type: 'OfferExpired', data: { rideId: ride.rideId, driverId: data.driverId, at: data.at } }];
}

function acceptRide({ data }: C.AcceptRide, ride: Ride): RideEvent[] {
  // The driver was shown this ride: saying the offer is gone leaks nothing, "not found" would confuse.
  // So was a driver whose fanned-out offer was withdrawn because another accepted first.
  if (ride.passedBy.includes(data.actor.userId) || ride.withdrawn.includes(data.actor.userId))
    throw new DomainError('OFFER_EXPIRED', 409, `the offer for ride ${ride.rideId} is no longer open`);
  mustSee(data.actor, ride);
  const offer = openOfferOf(ride, data.actor.userId);
  if (!offer) throw invalidTransition(`ride ${ride.rideId} is ${ride.status}; cannot accept`);
  if (!offerOpen(offer, data.at)) throw new DomainError('OFFER_EXPIRED', 409, `the offer for ride ${ride.rideId} has expired`);
  // Offline means "send me no rides": an offer still held from before must not bind them to one.
  if (!data.driverOnline) throw new DomainError('DRIVER_OFFLINE', 409, 'go online before accepting a ride');
  // First accept wins: the other open offers are withdrawn in the same append, before the acceptance.
  return [
    ...withdrawOthers(ride, data.actor.userId, 'accepted', data.at),
    { type: 'RideAccepted', data: { rideId: ride.rideId, driverId: data.actor.userId, at: data.at } },
  ];
}

function arriveAtPickup({ data }: C.ArriveAtPickup, ride: Ride): RideEvent[] {
  mustBeAssignedDriver(data.actor, ride);
  // Arrival may already have been detected from GPS; the driver's own tap then confirms it.
  if (ride.status === 'arrived') return [];
  mustBe(ride, ['accepted'], 'arrive');
  return [{ type: 'DriverArrived', data: { rideId: ride.rideId, driverId: ride.driverId!, detected: data.detected ?? false, at: data.at } }];
}

function startTrip({ data }: C.StartTrip, ride: Ride): RideEvent[] {
  mustBeAssignedDriver(data.actor, ride);
  mustBe(ride, ['accepted', 'arrived'], 'start');
  return [{ type: 'TripStarted', data: { rideId: ride.rideId, driverId: ride.driverId!, at: data.at } }];
}

function completeTrip({ data }: C.CompleteTrip, ride: Ride): RideEvent[] {
  mustBeAssignedDriver(data.actor, ride);
  mustBe(ride, ['in_progress'], 'complete');
  if (!Number.isFinite(data.distanceMeters) || data.distanceMeters < 0)
    throw new DomainError('VALIDATION_ERROR', 400, 'the trip distance must be a finite, non-negative number');
  const durationSeconds = Math.max(0, Math.round((data.at - (ride.startedAt ?? data.at)) / 1000));
  const distanceMeters = Math.round(data.distanceMeters);
  const fare = computeFare(data.tariff, distanceMeters, durationSeconds);
  const { rideId } = ride;
  return [
    { type: 'TripCompleted', data: { rideId, driverId: ride.driverId!, distanceMeters, durationSeconds, at: data.at } },
    { type: 'FareCalculated', data: { rideId, ...fare, distanceMeters, durationSeconds, at: data.at } },
  ];
}

function cancelRide({ data }: C.CancelRide, ride: Ride): RideEvent[] {
  const { actor } = data;
  mustSee(actor, ride);
  const isRider = actor.userId === ride.riderId;
  const isDriver = actor.userId === ride.driverId;
  // The offered driver declines; cancelling is for the ride's own parties.
  if (!isRider && !isDriver && !isStaff(actor)) throw forbidden(`only the ride's rider or driver may cancel it`);
  if (FINAL_STATUSES.has(ride.status)) throw invalidTransition(`ride ${ride.rideId} is ${ride.status}; cannot cancel`);
  const by = isRider ? 'rider' : isDriver ? 'driver' : actor.role === 'admin' ? 'admin' : 'system';
  // The first open offer's driver sees the cancellation as today; fanned-out others are withdrawn.
  return [
    ...withdrawOthers(ride, ride.offer?.driverId ?? null, 'cancelled', data.at),
    { type: 'RideCancelled', data: { rideId: ride.rideId, by, reason: data.reason, at: data.at } },
  ];
}

function markUnmatched({ data }: C.MarkUnmatched, ride: Ride): RideEvent[] {
  mustBe(ride, ['requested'], 'mark unmatched');
  return [{ type: 'RideUnmatched', data: { rideId: ride.rideId, rounds: ride.rounds, at: data.at } }];
}

/** A payment outcome is recorded once; a repeated outcome (redelivery) changes nothing. */
function recordPayment({ data }: C.RecordPayment, ride: Ride): RideEvent[] {
  mustBe(ride, ['completed'], 'record a payment');
  if (ride.payment === 'captured') return [];
  const { rideId, at, outcome } = data;
  if (outcome.captured) {
    const { paymentId, amount, currency } = outcome;
    return [{ type: 'PaymentCaptured', data: { rideId, paymentId, amount, currency, at } }];
  }
  if (ride.payment === 'failed') return [];
  return [{ type: 'PaymentFailed', data: { rideId, reason: outcome.reason, at } }];
}

function rateRide({ data }: C.RateRide, ride: Ride): RideEvent[] {
  mustSee(data.actor, ride);
  if (data.actor.userId !== ride.riderId) throw forbidden(`only the ride's rider may rate it`);
  mustBe(ride, ['completed'], 'rate');
  if (ride.rating) throw new DomainError('ALREADY_RATED', 409, `ride ${ride.rideId} is already rated`);
  if (!Number.isInteger(data.stars) || data.stars < 1 || data.stars > 5)
    throw new DomainError('VALIDATION_ERROR', 400, 'stars must be an integer from 1 to 5');
  return [{ type: 'RideRated', data: { rideId: ride.rideId, stars: data.stars, comment: data.comment, at: data.at } }];
}
