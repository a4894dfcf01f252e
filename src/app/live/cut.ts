import type { LiveMessage } from '../../../domain/ports/live-feed.ts';
import { deviceAtOf, type LocationMessage } from '../messages.ts';

/**
 * The replay/live cut. A new watch takes the hub's mark for its ride (the last ride version and
 * location this hub pushed) in the same tick as it starts holding live messages back: what lies at
 * or before the mark comes from the log (replay or snapshot), what lies after comes live, so the two
 * meet without a gap, a repeat, or a later event overtaking an earlier one.
 */
export interface Mark {
  version: number;
  location: LocationMessage | null;
  /** Device time of `location`; +Infinity once the ride is over (every location it had was pushed). */
  locationAt: number;
}

/** How far this hub has pushed each ride. Finished rides' marks are kept a while (fare, payment, rating follow). */
export function makeMarks(finishedKept = 10_000) {
  const open = new Map<string, Mark>();
  const finished = new Map<string, Mark>();

  return {
    /** A ride event was pushed; `final`: it ended the ride. */
    rideEvent(rideId: string, version: number, final: boolean): void {
      const mark = open.get(rideId) ?? finished.get(rideId) ?? { version: 0, location: null, locationAt: -Infinity };
      mark.version = Math.max(mark.version, version);
      if (!final) return void open.set(rideId, mark);
      open.delete(rideId);
      Object.assign(mark, { location: null, locationAt: Infinity });
      finished.delete(rideId);
      finished.set(rideId, mark);
      if (finished.size > finishedKept) finished.delete(finished.keys().next().value!);
    },
    /** A location was pushed for its ride (only while the ride is open). */
    location(message: LocationMessage): void {
      const mark = message.rideId ? open.get(message.rideId) : undefined;
      if (!mark) return;
      mark.location = message;
      mark.locationAt = deviceAtOf(message);
    },
    /** This hub's mark for a ride, copied (null: never pushed here, so the log alone tells). */
    cutOf(rideId: string): Mark | null {
      const mark = open.get(rideId) ?? finished.get(rideId);
      return mark ? { ...mark } : null;
    },
  };
}

/** Whether a logged item (a ride event by version, a location by device time) lies at or before the cut. */
export const beforeCut = (cut: Mark | null, item: { version?: number; deviceAt?: number }) =>
  !cut || (item.version !== undefined ? item.version <= cut.version : (item.deviceAt ?? Infinity) <= cut.locationAt);

/**
 * One peer's watch of one ride. Whatever it is sent, from the log or live, passes one filter that
 * keeps it in log order and free of repeats: a ride event at or below the last version sent was
 * seen, and so was a location at or before the last device time sent. Live messages wait while the
 * watch catches up from the log, then pass the same filter.
 */
export interface Watch {
  readonly rideId: string;
  readonly ended: boolean;
  /** A live message: held while catching up, else sent through the filter. `last`: the watch ends after it. */
  live(message: LiveMessage, version?: number, last?: boolean): void;
  /** A message from the log: sent through the filter at once. */
  fromLog(message: LiveMessage, version?: number, last?: boolean): void;
  /** The client already saw this (its `after` and what came before): nothing at or before it comes again. */
  seen(item: { version?: number; deviceAt?: number }): void;
  /** Catching up is over: the held live messages go through the filter, then everything goes straight. */
  goLive(): void;
  end(): void;
}

export function makeWatch(rideId: string, out: { send(message: LiveMessage): void; last(): void }): Watch {
  let version = 0;
  let locationAt = -Infinity;
  let held: { message: LiveMessage; version?: number; last?: boolean }[] | null = [];
  let ended = false;

  function deliver(message: LiveMessage, v?: number, last = false): void {
    if (ended) return;
    if (message.type === 'driver.location') {
      const at = deviceAtOf(message as unknown as LocationMessage);
      if (at <= locationAt) return;
      locationAt = at;
    } else if (v !== undefined) {
      if (v <= version) return;
      version = v;
    }
    out.send(message);
    if (last) out.last();
  }

  return {
    rideId,
    get ended() {
      return ended;
    },
    live(message, v, last) {
      if (ended) return;
      if (held) held.push({ message, version: v, last });
      else deliver(message, v, last);
    },
    fromLog: deliver,
    seen(item) {
      if (item.version !== undefined) version = Math.max(version, item.version);
      if (item.deviceAt !== undefined) locationAt = Math.max(locationAt, item.deviceAt);
    },
    goLive() {
      const queued = held ?? [];
      held = null;
      for (const q of queued) deliver(q.message, q.version, q.last);
    },
    end() {
      ended = true;
    },
  };
}
