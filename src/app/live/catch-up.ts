import type { Recorded } from '../../../domain/ports/event-log.ts';
import type { LiveMessage, Peer } from '../../../domain/ports/live-feed.ts';
import type { TrackPoint } from '../../../domain/ports/read-model.ts';
import { foldRide, rideStatusMessage, visibility, type RideEvent } from '../../../domain/ride/index.ts';
import type { LocationMessage } from '../messages.ts';
import { rideStory } from '../ride-story.ts';
import { beforeCut, type Mark, type Watch } from './cut.ts';

export interface CatchUpDeps {
  readonly rideHistory: (rideId: string) => Promise<readonly Recorded<RideEvent>[]>;
  readonly rideTrack: (rideId: string) => Promise<readonly TrackPoint[]>;
  /** The driver's last pushed location on the ride (when this hub has never pushed the ride). */
  readonly latestLocation: (rideId: string) => LocationMessage | null;
  /** Outside any watch (the replay-gap error). */
  readonly send: (peer: Peer, message: LiveMessage) => void;
}

/**
 * What a new watch is sent from the log, up to its cut: the replay after the client's `after`, or
 * when that cannot be done (unknown or trimmed), the ride's state at the cut. A watch whose viewer
 * may see a logged event only as their last (a share token as the trip ends) ends there, as it would
 * live.
 */
export function makeCatchUp({ rideHistory, rideTrack, latestLocation, send }: CatchUpDeps) {
  /** Sends what the peer missed after `after`, in log order, or says it cannot and sends the state. */
  async function replay(peer: Peer, watch: Watch, after: string, cut: Mark | null): Promise<void> {
    const items = rideStory(await rideHistory(watch.rideId), await rideTrack(watch.rideId));
    const from = items.findIndex((m) => m.message.eventId === after);
    if (from < 0) {
      send(peer, { type: 'error', code: 'REPLAY_GAP', rideId: watch.rideId, message: `cannot replay after ${after}: here is the current state` });
      return snapshot(peer, watch, cut);
    }
    // What the client saw up to `after` is its baseline: nothing at or before it comes again.
    for (const item of items.slice(0, from + 1)) watch.seen(item);
    for (const item of items.slice(from + 1))
      if (beforeCut(cut, item)) watch.fromLog(item.message, item.version, !!item.ride && visibility(peer, item.ride) === 'last');
  }

  /** The ride as it stood at the cut: its last ride event and the driver's last location, if any. */
  async function snapshot(peer: Peer, watch: Watch, cut: Mark | null): Promise<void> {
    const folded = foldRide(await rideHistory(watch.rideId));
    const last = cut ? folded.filter((h) => h.event.metadata.version <= cut.version).at(-1) : folded.at(-1);
    const location = cut ? cut.location : latestLocation(watch.rideId);
    if (last) watch.fromLog(rideStatusMessage(last.event, last.ride), last.event.metadata.version, visibility(peer, last.ride) === 'last');
    if (location) watch.fromLog(location as unknown as LiveMessage);
  }

  return { replay, snapshot };
}
