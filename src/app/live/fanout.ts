import type { LiveMessage, Peer } from '../../../domain/ports/live-feed.ts';
import type { Metrics } from '../metrics.ts';

/** 1013 "try again later": the client may reconnect with `after` and catch up from the log. */
export const SLOW_CONSUMER = 1013;

export interface FanoutDeps {
  /** A peer with more than this queued is too slow: it is closed rather than let memory grow. */
  readonly maxBufferedBytes: number;
  readonly metrics: Pick<Metrics, 'pushed' | 'socketsClosedSlow'>;
  /** Whether the peer is still connected: nothing is sent to one that is gone. */
  readonly connected: (peer: Peer) => boolean;
  /** Forgets a peer that was too slow (before it is closed). */
  readonly drop: (peer: Peer) => void;
}

/**
 * Writing to sockets. One message goes to every watcher of a ride (and every fleet watcher), so it
 * is serialised once, not per recipient; a socket that cannot keep up is closed, never buffered
 * without bound.
 */
export function makeFanout({ maxBufferedBytes, metrics, connected, drop }: FanoutDeps) {
  // The last message serialised: a message goes to all its recipients in one loop, so one slot is
  // enough, and unlike a WeakMap entry per message it leaves the collector nothing to trace.
  let lastMessage: LiveMessage | null = null;
  let lastJson = '';
  function jsonOf(message: LiveMessage): string {
    if (message !== lastMessage) {
      lastJson = JSON.stringify(message);
      lastMessage = message;
    }
    return lastJson;
  }

  /** Each message type's push tally, looked up once per type. */
  const pushedByType = new Map<string, { n: number }>();
  function pushedOf(type: string) {
    let tally = pushedByType.get(type);
    if (!tally) pushedByType.set(type, (tally = metrics.pushed.tally({ type })));
    return tally;
  }

  return {
    /** Sends, unless the peer is too far behind: then it is dropped and closed (1013), never buffered further. */
    send(peer: Peer, message: LiveMessage): boolean {
      if (!connected(peer)) return false;
      if (peer.buffered() > maxBufferedBytes) {
        metrics.socketsClosedSlow.inc();
        drop(peer);
        peer.close(SLOW_CONSUMER, 'SLOW_CONSUMER');
        return false;
      }
      peer.send(jsonOf(message));
      pushedOf(message.type).n++;
      return true;
    },
  };
}

export type Fanout = ReturnType<typeof makeFanout>;
