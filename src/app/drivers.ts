import type { Actor } from '../../domain/actor.ts';
import { driverDecider, type DriverCommand } from '../../domain/driver/index.ts';
import { DomainError } from '../../domain/errors.ts';
import { handle } from '../../domain/handle.ts';
import type { Clock } from '../../domain/ports/clock.ts';
import type { EventLog } from '../../domain/ports/event-log.ts';
import type { Metrics } from './metrics.ts';

export interface DriverServiceDeps {
  readonly log: EventLog;
  readonly clock: Clock;
  readonly metrics: Pick<Metrics, 'eventsAppended'>;
}

/** Driver-side commands on the `drivers` stream (availability, offer holds, assignment). */
export function makeDriverService({ log, clock, metrics }: DriverServiceDeps) {
  async function command(driverId: string, cmd: DriverCommand) {
    const { state, appended } = await handle(log, 'drivers', driverId, driverDecider, cmd);
    if (appended.length) metrics.eventsAppended.inc({ stream: 'drivers' }, appended.length);
    return state;
  }

  return {
    command,
    /** The driver's stream, oldest first. */
    history: (driverId: string) => log.readKey('drivers', driverId),
    async setAvailability(actor: Actor, available: boolean) {
      if (actor.role !== 'driver') throw new DomainError('FORBIDDEN', 403, 'only drivers have availability');
      const state = await command(actor.userId, { type: 'SetAvailability', data: { driverId: actor.userId, available, at: clock.now() } });
      return { driverId: actor.userId, available: state.available, rideId: state.rideId };
    },
  };
}

export type DriverService = ReturnType<typeof makeDriverService>;
