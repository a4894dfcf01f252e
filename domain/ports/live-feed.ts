import type { Actor } from '../actor.ts';

/** One connected socket, as the live feed sees it. The HTTP adapter makes it from a WebSocket. */
export interface Peer {
  readonly actor: Actor;
  /** A share token's ride: this peer may watch that ride only. */
  readonly shareRideId?: string;
  send(message: string): void;
  /** Bytes queued in the socket and not yet sent: how far behind the client is. */
  buffered(): number;
  close(code: number, reason: string): void;
}

/** A message pushed to a socket: a type, and where it sits in a ride's log. */
export type LiveMessage = { type: string; eventId?: string; rideId?: string | null } & Record<string, unknown>;

/**
 * The inbound port the socket adapter drives: who is connected and what each one follows. The
 * application's live hub implements it; the adapter knows nothing else of the application.
 */
export interface LiveFeed {
  connect(peer: Peer): void;
  /** Idempotent: a socket's `error` and `close` both end here. */
  disconnect(peer: Peer): void;
  /** How many sockets this user holds on this instance (the per-user socket limit). */
  socketsOf(userId: string): number;
  /** Starts (or restarts) a watch: `subscribed`, then replay after `after` or the current state, then live. */
  subscribe(peer: Peer, rideId: string, after?: string): Promise<void>;
  unsubscribe(peer: Peer, rideId: string): void;
  /** Operators only: every ride event and location, after the snapshot message. */
  watchFleet(peer: Peer, snapshot: LiveMessage): void;
  /** Closes every socket (shutdown) with 1001 going away. */
  closeAll(): void;
}
