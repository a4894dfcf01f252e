import type { Actor } from '../../domain/actor.ts';
import { driverDecider, type DriverCommand } from '../../domain/driver/index.ts';
import { DomainError } from '../../domain/errors.ts';
import { handle } from '../../domain/handle.ts';
import type { Context } from './context.ts';

/** Driver-side commands on the `drivers` stream (availability, offer holds, assignment). */
export function makeDriverService(ctx: Context) {
  async function command(driverId: string, cmd: DriverCommand) {
    const { state, appended } = await handle(ctx.log, 'drivers', driverId, driverDecider, cmd);
    if (appended.length) ctx.metrics.eventsAppended.inc({ stream: 'drivers' }, appended.length);
    return state;
  }

  return {
    command,
    async setAvailability(actor: Actor, available: boolean) {
      if (actor.role !== 'driver') throw new DomainError('FORBIDDEN', 403, 'only drivers have availability');
      const state = await command(actor.userId, { type: 'SetAvailability', data: { driverId: actor.userId, available, at: ctx.now() } });
      return { driverId: actor.userId, available: state.available, rideId: state.rideId };
    },
  };
}

export type DriverService = ReturnType<typeof makeDriverService>;
