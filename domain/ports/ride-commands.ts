import type { Actor } from '../actor.ts';
import type { LatLng } from '../geo.ts';
import type { PublicRide } from './ride-queries.ts';

/**
 * The inbound port for changing a ride (HTTP `POST /v1/rides…`). Each command is decided by the ride
 * decider on the ride's log and answers the ride as the log has it after the append. A broken rule
 * throws a DomainError (its `code` and status are the contract), and appends nothing.
 */
export interface RideCommands {
  /** A rider asks for a ride; the same Idempotency-Key answers the same ride. */
  request(rider: Actor, trip: { readonly pickup: LatLng; readonly dropoff: LatLng }, idempotencyKey?: string): Promise<PublicRide>;
  accept(driver: Actor, rideId: string): Promise<PublicRide>;
  decline(driver: Actor, rideId: string): Promise<PublicRide>;
  arrive(driver: Actor, rideId: string): Promise<PublicRide>;
  start(driver: Actor, rideId: string): Promise<PublicRide>;
  /** The fare is reckoned from the trip's track (or the straight line when there is none). */
  complete(driver: Actor, rideId: string): Promise<PublicRide>;
  cancel(actor: Actor, rideId: string, reason: string | null): Promise<PublicRide>;
  rate(rider: Actor, rideId: string, stars: number, comment: string | null): Promise<PublicRide>;
}
