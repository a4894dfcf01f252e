import { fold } from '../../domain/decider.ts';
import { DomainError } from '../../domain/errors.ts';
import type { Recorded } from '../../domain/ports/event-log.ts';
import { FINAL_STATUSES, rideDecider, type RideEvent, type RideOffered, type RideStatus } from '../../domain/ride/index.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { PaymentGateway } from '../../domain/ports/payment.ts';
import type { DriverService } from './drivers.ts';
import type { RideService } from './rides.ts';

/**
 * What follows from a ride event on the driver's side and on the payment side: a process manager
 * run by one work-sharing group. Every step is idempotent, so a redelivered event changes nothing.
 */
export function makeRideReactions({ payments, clock }: { payments: PaymentGateway; clock: Clock }, drivers: DriverService, rides: RideService) {
  const at = () => clock.now();

  /** Every driver the ride was offered to, once each (with OFFER_FANOUT several per round; the assigned one among them). */
  async function offeredDrivers(rideId: string): Promise<string[]> {
    const history = await rides.history(rideId);
    return [...new Set(history.filter((e): e is Recorded<RideOffered> => e.type === 'RideOffered').map((e) => e.data.driverId))];
  }

  const hasEnded = async (rideId: string) => FINAL_STATUSES.has(fold(rideDecider, await rides.history(rideId)).status as RideStatus);

  return async function react(e: Recorded<RideEvent>): Promise<void> {
    const rideId = e.metadata.key;
    switch (e.type) {
      case 'OfferDeclined':
      case 'OfferExpired':
      case 'OfferWithdrawn':
        await drivers.command(e.data.driverId, { type: 'ReleaseOffer', data: { driverId: e.data.driverId, rideId, at: at() } });
        return;
      case 'RideAccepted': {
        // The group's members may each hold events of one ride at once, so this can run after the
        // reaction to the ride's end (TripCompleted, RideCancelled) already tried to free the driver,
        // a no-op then: assigning now would leave the driver on an ended ride (and refuse their next
        // one, DRIVER_BUSY) until the reconciler's next pass. So after assigning, a look at the ride:
        // ended by now means the end's reaction may have run first, and the driver is freed here. In
        // either order the driver ends free, and their stream tells the trip once, assigned then
        // freed (test/reactions-order.test.ts). A ride already over whose assignment the driver's
        // stream holds is a redelivery: nothing to do.
        const { driverId } = e.data;
        const endedBefore = await hasEnded(rideId);
        if (endedBefore && (await drivers.history(driverId)).some((d) => d.type === 'DriverAssigned' && d.data.rideId === rideId)) return;
        try {
          await drivers.command(driverId, { type: 'AssignRide', data: { driverId, rideId, at: at() } });
        } catch (err) {
          // On another ride by now: this one, over, cannot be told on their stream any more.
          if (endedBefore && err instanceof DomainError && err.code === 'DRIVER_BUSY') return;
          throw err;
        }
        if (endedBefore || (await hasEnded(rideId))) await drivers.command(driverId, { type: 'FreeDriver', data: { driverId, rideId, at: at() } });
        return;
      }
      case 'RideCancelled':
      case 'RideUnmatched': {
        // Both commands change nothing for a driver who holds no offer of, or is not on, this ride.
        for (const offered of await offeredDrivers(rideId)) {
          await drivers.command(offered, { type: 'ReleaseOffer', data: { driverId: offered, rideId, at: at() } });
          await drivers.command(offered, { type: 'FreeDriver', data: { driverId: offered, rideId, at: at() } });
        }
        return;
      }
      case 'TripCompleted':
        await drivers.command(e.data.driverId, { type: 'FreeDriver', data: { driverId: e.data.driverId, rideId, at: at() } });
        return;
      case 'FareCalculated': {
        const state = fold(rideDecider, await rides.history(rideId));
        if (state.status === 'none' || state.payment === 'captured') return;
        const outcome = await payments.capture({ rideId, riderId: state.riderId, amount: e.data.amount, currency: e.data.currency });
        try {
          await rides.record(rideId, outcome);
        } catch (err) {
          if (!(err instanceof DomainError)) throw err;
        }
        return;
      }
      default:
        return;
    }
  };
}
