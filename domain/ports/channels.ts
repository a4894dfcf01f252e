/**
 * Fire-and-forget messages between instances (Redis Pub/Sub): what one instance computed and
 * another's sockets need, without every instance consuming the stream it came from. Delivery is at
 * most once and only while subscribed: whatever must not be lost is in the log, and a newcomer
 * catches up from there (or from the channel's kept latest message).
 */
export interface Channels {
  /** Publishes; with `keepMs`, the message also stays as the channel's latest for that long (atomically with the publish). */
  publish(channel: string, message: string, keepMs?: number): void;
  /** The channel's kept latest message, if any. */
  latest(channel: string): Promise<string | null>;
  /** Resolves once the subscription is in place: every later publish reaches `onMessage`. One handler per channel. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /**
   * Who listens to what, shared by every instance, so a publisher can leave out what nobody
   * elsewhere listens to: `declare` says `listener` listens to these keys for the next `ttlMs`
   * (restated before it lapses; a crashed listener's declarations lapse by themselves), `withdraw`
   * that it no longer does, `listening` reads every declaration not lapsed. Time is the store's.
   */
  declare(listener: string, keys: readonly string[], ttlMs: number): Promise<void>;
  withdraw(listener: string, keys: readonly string[]): Promise<void>;
  listening(): Promise<Array<readonly [listener: string, key: string]>>;
  close(): Promise<void>;
}
