import { DomainError } from '../errors.ts';
import type { Decider } from '../decider.ts';
import type { Event } from '../ports/event-log.ts';

export type DriverAvailabilityChanged = Event<'DriverAvailabilityChanged', { driverId: string; available: boolean; at: number }>;
/** The driver is reserved for one offer: the atomic hold that stops two rides being offered at once. */
export type DriverOfferHeld = Event<'DriverOfferHeld', { driverId: string; rideId: string; expiresAt: number; at: number }>;
export type DriverOfferReleased = Event<'DriverOfferReleased', { driverId: string; rideId: string; at: number }>;
export type DriverAssigned = Event<'DriverAssigned', { driverId: string; rideId: string; at: number }>;
export type DriverFreed = Event<'DriverFreed', { driverId: string; rideId: string; at: number }>;

export type DriverEvent = DriverAvailabilityChanged | DriverOfferHeld | DriverOfferReleased | DriverAssigned | DriverFreed;

export interface DriverState {
  readonly available: boolean;
  /** The ride this driver is holding an offer for, if any. */
  readonly offeredRideId: string | null;
  /** When that offer expires; a hold past it (plus a grace) has lapsed, e.g. its matcher crashed. */
  readonly offerExpiresAt: number | null;
  /** The ride this driver is carrying out (busy), if any. */
  readonly rideId: string | null;
}

type Command<T extends string, D> = { readonly type: T; readonly data: D };
export type SetAvailability = Command<'SetAvailability', { driverId: string; available: boolean; at: number }>;
export type HoldOffer = Command<'HoldOffer', { driverId: string; rideId: string; expiresAt: number; at: number }>;
export type ReleaseOffer = Command<'ReleaseOffer', { driverId: string; rideId: string; at: number }>;
export type AssignRide = Command<'AssignRide', { driverId: string; rideId: string; at: number }>;
export type FreeDriver = Command<'FreeDriver', { driverId: string; rideId: string; at: number }>;
export type DriverCommand = SetAvailability | HoldOffer | ReleaseOffer | AssignRide | FreeDriver;

export const initialDriverState = (): DriverState => ({ available: false, offeredRideId: null, offerExpiresAt: null, rideId: null });

/** How long after an offer's expiry its hold still blocks the driver: room for the expiry to be recorded. */
export const HOLD_GRACE_MS = 5_000;

/** A hold counts until its offer expired plus the grace; after that it no longer blocks a new offer. */
export const holdsOffer = (s: Pick<DriverState, 'offeredRideId' | 'offerExpiresAt'>, at: number) =>
  s.offeredRideId !== null && (s.offerExpiresAt === null || at <= s.offerExpiresAt + HOLD_GRACE_MS);

export function evolveDriver(state: DriverState, event: DriverEvent): DriverState {
  switch (event.type) {
    case 'DriverAvailabilityChanged':
      return { ...state, available: event.data.available };
    case 'DriverOfferHeld':
      return { ...state, offeredRideId: event.data.rideId, offerExpiresAt: event.data.expiresAt };
    case 'DriverOfferReleased':
      return state.offeredRideId === event.data.rideId ? { ...state, offeredRideId: null, offerExpiresAt: null } : state;
    case 'DriverAssigned':
      return { ...state, offeredRideId: null, offerExpiresAt: null, rideId: event.data.rideId };
    case 'DriverFreed':
      return state.rideId === event.data.rideId ? { ...state, rideId: null } : state;
    default: {
      // Another type on the stream (a newer writer): nothing this fold knows changes.
      const unknown: never = event;
      void unknown;
      return state;
    }
  }
}

/**
 * THE rule for "is this driver free" at `at`: online, not carrying a ride, not holding a live offer.
 * Eligible for a new offer. The fleet index (projections/fleet) calls it; the Redis GEO projection's
 * Lua (projections/geo/redis-geo.ts, `FREE`) is a line-for-line copy that test/driver-free.test.ts holds to it.
 */
export const isFree = (s: DriverState, at: number) => s.available && s.rideId === null && !holdsOffer(s, at);

/**
 * A driver's last fix (device time) still says where they are at `at`: not older than `freshnessMs`.
 * Only a free driver with a fresh fix is offered a ride or listed as nearby.
 */
export const fixIsFresh = (fixAt: number, at: number, freshnessMs: number) => at - fixAt <= freshnessMs;

export function decideDriver(command: DriverCommand, state: DriverState): DriverEvent[] {
  switch (command.type) {
    case 'SetAvailability':
      if (state.available === command.data.available) return [];
      return [{ type: 'DriverAvailabilityChanged', data: command.data }];
    case 'HoldOffer':
      if (state.offeredRideId === command.data.rideId) return []; // a matcher retrying after a crash
      if (!isFree(state, command.data.at)) throw new DomainError('DRIVER_UNAVAILABLE', 409, `driver ${command.data.driverId} cannot take an offer now`);
      // A lapsed hold (its matcher died before offering or releasing) is released first, on the record.
      return [
        ...(state.offeredRideId !== null
          ? [{ type: 'DriverOfferReleased' as const, data: { driverId: command.data.driverId, rideId: state.offeredRideId, at: command.data.at } }]
          : []),
        { type: 'DriverOfferHeld', data: command.data },
      ];
    case 'ReleaseOffer':
      return state.offeredRideId === command.data.rideId ? [{ type: 'DriverOfferReleased', data: command.data }] : [];
    case 'AssignRide': {
      const { data } = command;
      if (state.rideId === data.rideId) return [];
      if (state.rideId !== null) throw new DomainError('DRIVER_BUSY', 409, `driver ${data.driverId} is already on ride ${state.rideId}`);
      return [{ type: 'DriverAssigned', data }];
    }
    case 'FreeDriver':
      return state.rideId === command.data.rideId ? [{ type: 'DriverFreed', data: command.data }] : [];
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${(unknown as { type: string }).type}`);
    }
  }
}

export const driverDecider: Decider<DriverCommand, DriverEvent, DriverState> = {
  initialState: initialDriverState,
  evolve: evolveDriver,
  decide: decideDriver,
};
