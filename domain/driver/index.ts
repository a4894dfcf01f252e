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

export const initialDriverState = (): DriverState => ({ available: false, offeredRideId: null, rideId: null });

export function evolveDriver(state: DriverState, event: DriverEvent): DriverState {
  switch (event.type) {
    case 'DriverAvailabilityChanged':
      return { ...state, available: event.data.available };
    case 'DriverOfferHeld':
      return { ...state, offeredRideId: event.data.rideId };
    case 'DriverOfferReleased':
      return state.offeredRideId === event.data.rideId ? { ...state, offeredRideId: null } : state;
    case 'DriverAssigned':
      return { ...state, offeredRideId: null, rideId: event.data.rideId };
    case 'DriverFreed':
      return state.rideId === event.data.rideId ? { ...state, rideId: null } : state;
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

/** Eligible for a new offer: online, not carrying a ride, not holding another offer. */
export const isFree = (s: DriverState) => s.available && s.rideId === null && s.offeredRideId === null;

export function decideDriver(command: DriverCommand, state: DriverState): DriverEvent[] {
  switch (command.type) {
    case 'SetAvailability':
      if (state.available === command.data.available) return [];
      return [{ type: 'DriverAvailabilityChanged', data: command.data }];
    case 'HoldOffer':
      if (state.offeredRideId === command.data.rideId) return []; // a matcher retrying after a crash
      if (!isFree(state)) throw new DomainError('DRIVER_UNAVAILABLE', 409, `driver ${command.data.driverId} cannot take an offer now`);
      return [{ type: 'DriverOfferHeld', data: command.data }];
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
