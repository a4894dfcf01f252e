import { describe, it } from 'vitest';
import { driverDecider, type DriverCommand, type DriverEvent } from '../../domain/driver/index.ts';
import { DeciderSpecification } from '../support/decider-spec.ts';

const spec = DeciderSpecification.for(driverDecider);

const driverId = 'd_1';
const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
const sec = (s: number) => T0 + s * 1000;

const event = {
  availability: (available: boolean, at: number): DriverEvent => ({ type: 'DriverAvailabilityChanged', data: { driverId, available, at } }),
  held: (rideId: string, at: number): DriverEvent => ({ type: 'DriverOfferHeld', data: { driverId, rideId, expiresAt: at + 15_000, at } }),
  released: (rideId: string, at: number): DriverEvent => ({ type: 'DriverOfferReleased', data: { driverId, rideId, at } }),
  assigned: (rideId: string, at: number): DriverEvent => ({ type: 'DriverAssigned', data: { driverId, rideId, at } }),
  freed: (rideId: string, at: number): DriverEvent => ({ type: 'DriverFreed', data: { driverId, rideId, at } }),
};

const command = {
  setAvailability: (available: boolean, at: number): DriverCommand => ({ type: 'SetAvailability', data: { driverId, available, at } }),
  hold: (rideId: string, at: number): DriverCommand => ({ type: 'HoldOffer', data: { driverId, rideId, expiresAt: at + 15_000, at } }),
  release: (rideId: string, at: number): DriverCommand => ({ type: 'ReleaseOffer', data: { driverId, rideId, at } }),
  assign: (rideId: string, at: number): DriverCommand => ({ type: 'AssignRide', data: { driverId, rideId, at } }),
  free: (rideId: string, at: number): DriverCommand => ({ type: 'FreeDriver', data: { driverId, rideId, at } }),
};

const online = [event.availability(true, sec(0))];
const holding = [...online, event.held('r_1', sec(10))];
const busy = [...holding, event.assigned('r_1', sec(12))];

describe('driver decider: availability', () => {
  it('a new driver is offline; going online is recorded', () =>
    spec.given([]).when(command.setAvailability(true, sec(0))).then([event.availability(true, sec(0))]));

  it('going offline is recorded', () => spec.given(online).when(command.setAvailability(false, sec(60))).then([event.availability(false, sec(60))]));

  it('no change, no event', () => {
    spec.given([]).when(command.setAvailability(false, sec(0))).thenNothing();
    spec.given(online).when(command.setAvailability(true, sec(60))).thenNothing();
    spec.given([...online, event.availability(false, sec(30))]).when(command.setAvailability(false, sec(60))).thenNothing();
  });

  it('a busy driver may go offline (takes no new offers) and is still freed from the ride', () => {
    spec.given(busy).when(command.setAvailability(false, sec(60))).then([event.availability(false, sec(60))]);
    spec.given([...busy, event.availability(false, sec(60))]).when(command.free('r_1', sec(90))).then([event.freed('r_1', sec(90))]);
  });
});

describe('driver decider: offers', () => {
  it('a free driver holds an offer', () => spec.given(online).when(command.hold('r_1', sec(10))).then([event.held('r_1', sec(10))]));

  it('an offline driver cannot: DRIVER_UNAVAILABLE', () => {
    spec.given([]).when(command.hold('r_1', sec(10))).thenThrows('DRIVER_UNAVAILABLE', 409);
    spec.given([...online, event.availability(false, sec(5))]).when(command.hold('r_1', sec(10))).thenThrows('DRIVER_UNAVAILABLE', 409);
  });

  it('a driver holding another offer cannot: one offer at a time', () =>
    spec.given(holding).when(command.hold('r_2', sec(11))).thenThrows('DRIVER_UNAVAILABLE', 409));

  it('a busy driver cannot', () => spec.given(busy).when(command.hold('r_2', sec(20))).thenThrows('DRIVER_UNAVAILABLE', 409));

  it('releases the held ride, which frees the driver for the next offer', () => {
    spec.given(holding).when(command.release('r_1', sec(25))).then([event.released('r_1', sec(25))]);
    spec.given([...holding, event.released('r_1', sec(25))]).when(command.hold('r_2', sec(26))).then([event.held('r_2', sec(26))]);
  });

  it('releasing any other ride, or twice, is nothing', () => {
    spec.given(holding).when(command.release('r_2', sec(25))).thenNothing();
    spec.given(online).when(command.release('r_1', sec(25))).thenNothing();
    spec.given([...holding, event.released('r_1', sec(25))]).when(command.release('r_1', sec(26))).thenNothing();
    // A stale release must not drop the offer the driver holds now.
    spec.given([...holding, event.released('r_1', sec(25)), event.held('r_2', sec(26))]).when(command.release('r_1', sec(27))).thenNothing();
  });

  it('after a stale release the driver still holds the current offer', () =>
    spec
      .given([...holding, event.released('r_1', sec(25)), event.held('r_2', sec(26)), event.released('r_1', sec(27))])
      .when(command.hold('r_3', sec(28)))
      .thenThrows('DRIVER_UNAVAILABLE', 409));
});

describe('driver decider: rides', () => {
  it('assigns the held ride, which clears the hold', () => {
    spec.given(holding).when(command.assign('r_1', sec(12))).then([event.assigned('r_1', sec(12))]);
    spec.given(busy).when(command.release('r_1', sec(13))).thenNothing();
  });

  it('assigning the same ride again is nothing (redelivery)', () => spec.given(busy).when(command.assign('r_1', sec(13))).thenNothing());

  it('a driver on another ride: DRIVER_BUSY', () => spec.given(busy).when(command.assign('r_2', sec(13))).thenThrows('DRIVER_BUSY', 409));

  it('frees the driver from the current ride, who can then take offers again', () => {
    spec.given(busy).when(command.free('r_1', sec(900))).then([event.freed('r_1', sec(900))]);
    spec.given([...busy, event.freed('r_1', sec(900))]).when(command.hold('r_2', sec(901))).then([event.held('r_2', sec(901))]);
  });

  it('freeing from any other ride, or twice, is nothing', () => {
    spec.given(busy).when(command.free('r_2', sec(900))).thenNothing();
    spec.given(online).when(command.free('r_1', sec(900))).thenNothing();
    spec.given([...busy, event.freed('r_1', sec(900))]).when(command.free('r_1', sec(901))).thenNothing();
  });

  it('a stale free leaves the driver busy with the current ride', () =>
    spec
      .given([...busy, event.freed('r_1', sec(900)), event.assigned('r_2', sec(950)), event.freed('r_1', sec(960))])
      .when(command.assign('r_3', sec(970)))
      .thenThrows('DRIVER_BUSY', 409));
});

describe('driver decider: a hold whose matcher died', () => {
  // The offer held at sec(10) expires at sec(25); the grace runs to sec(30).
  it('still blocks a new offer until its expiry plus the grace', () =>
    spec.given(holding).when(command.hold('r_2', sec(30))).thenThrows('DRIVER_UNAVAILABLE', 409));

  it('lapses after that: released on the record, then the new hold', () =>
    spec.given(holding).when(command.hold('r_2', sec(31))).then([event.released('r_1', sec(31)), event.held('r_2', sec(31))]));
});
