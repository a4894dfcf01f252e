import { describe, expect, it } from 'vitest';
import { HOLD_GRACE_MS, decideDriver, evolveDriver, fixIsFresh, holdsOffer, initialDriverState, isFree, type DriverState } from '../../domain/driver/index.ts';

const online: DriverState = { ...initialDriverState(), available: true };
const holding = (expiresAt: number | null): DriverState => ({ ...online, offeredRideId: 'r_1', offerExpiresAt: expiresAt });

describe('is this driver free (what matching and /v1/drivers/nearby see)', () => {
  it('a new driver is offline, holds nothing and carries nothing', () => {
    expect(initialDriverState()).toEqual({ available: false, offeredRideId: null, offerExpiresAt: null, rideId: null });
    expect(isFree(initialDriverState(), 0)).toBe(false);
  });

  it('online with nothing held or carried: free', () => expect(isFree(online, 0)).toBe(true));
  it('offline: not free', () => expect(isFree({ ...online, available: false }, 0)).toBe(false));
  it('carrying a ride: not free', () => expect(isFree({ ...online, rideId: 'r_9' }, 0)).toBe(false));

  it('a held offer blocks until its expiry plus the grace, inclusive, then lapses', () => {
    const exp = 100_000;
    expect(isFree(holding(exp), exp)).toBe(false);
    expect(isFree(holding(exp), exp + HOLD_GRACE_MS)).toBe(false);
    expect(isFree(holding(exp), exp + HOLD_GRACE_MS + 1)).toBe(true);
    expect(HOLD_GRACE_MS).toBe(5_000);
  });

  it('a hold with no recorded expiry blocks for ever', () => {
    expect(holdsOffer(holding(null), Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(isFree(holding(null), Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it('no held ride: nothing blocks, whatever the expiry says', () => {
    expect(holdsOffer({ offeredRideId: null, offerExpiresAt: 10 }, 0)).toBe(false);
  });
});

describe('a driver’s last fix is fresh', () => {
  it('up to and including the freshness window, not a millisecond older', () => {
    expect(fixIsFresh(1_000, 1_000, 30_000)).toBe(true);
    expect(fixIsFresh(1_000, 31_000, 30_000)).toBe(true);
    expect(fixIsFresh(1_000, 31_001, 30_000)).toBe(false);
  });

  it('a fix from the device’s future (clock skew) still counts as fresh', () => {
    expect(fixIsFresh(5_000, 1_000, 30_000)).toBe(true);
  });
});

describe('the driver’s record', () => {
  it('a release of another ride leaves the current hold', () => {
    const s = evolveDriver(holding(50), { type: 'DriverOfferReleased', data: { driverId: 'd', rideId: 'r_2', at: 1 } });
    expect(s).toEqual(holding(50));
  });

  it('a release of the held ride clears the hold and its expiry', () => {
    const s = evolveDriver(holding(50), { type: 'DriverOfferReleased', data: { driverId: 'd', rideId: 'r_1', at: 1 } });
    expect(s).toEqual(online);
  });

  it('assignment clears the hold and makes the driver busy', () => {
    const s = evolveDriver(holding(50), { type: 'DriverAssigned', data: { driverId: 'd', rideId: 'r_1', at: 1 } });
    expect(s).toEqual({ ...online, rideId: 'r_1' });
  });

  it('freeing from another ride leaves the driver busy', () => {
    const busy = { ...online, rideId: 'r_1' };
    expect(evolveDriver(busy, { type: 'DriverFreed', data: { driverId: 'd', rideId: 'r_2', at: 1 } })).toEqual(busy);
    expect(evolveDriver(busy, { type: 'DriverFreed', data: { driverId: 'd', rideId: 'r_1', at: 1 } })).toEqual(online);
  });

  it('an unknown event type from a newer writer changes nothing', () => {
    const s = evolveDriver(online, { type: 'DriverRenamed', data: {} } as never);
    expect(s).toBe(online);
  });

  it('holding a new offer over a lapsed one releases the lapsed one first, at the new time, for this driver', () => {
    const exp = 10_000;
    const at = exp + HOLD_GRACE_MS + 1;
    const events = decideDriver({ type: 'HoldOffer', data: { driverId: 'd_1', rideId: 'r_2', expiresAt: at + 15_000, at } }, holding(exp));
    expect(events).toEqual([
      { type: 'DriverOfferReleased', data: { driverId: 'd_1', rideId: 'r_1', at } },
      { type: 'DriverOfferHeld', data: { driverId: 'd_1', rideId: 'r_2', expiresAt: at + 15_000, at } },
    ]);
  });

  it('a matcher retrying the same hold after a crash gets nothing new, and no refusal', () => {
    expect(decideDriver({ type: 'HoldOffer', data: { driverId: 'd_1', rideId: 'r_1', expiresAt: 50, at: 10 } }, holding(50))).toEqual([]);
  });

  it('a free driver holding nothing just holds the offer', () => {
    const data = { driverId: 'd_1', rideId: 'r_2', expiresAt: 20, at: 5 };
    expect(decideDriver({ type: 'HoldOffer', data }, online)).toEqual([{ type: 'DriverOfferHeld', data }]);
  });

  it('refusals name the driver and, when busy, the ride they are on', () => {
    expect(() => decideDriver({ type: 'HoldOffer', data: { driverId: 'd_7', rideId: 'r_2', expiresAt: 20, at: 5 } }, initialDriverState())).toThrow(
      'driver d_7 cannot take an offer now',
    );
    expect(() => decideDriver({ type: 'AssignRide', data: { driverId: 'd_7', rideId: 'r_2', at: 5 } }, { ...online, rideId: 'r_1' })).toThrow(
      'driver d_7 is already on ride r_1',
    );
  });

  it('an unknown command is refused by name', () => {
    expect(() => decideDriver({ type: 'Teleport', data: {} } as never, online)).toThrow('unknown command Teleport');
  });
});
