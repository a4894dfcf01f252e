import { randomUUID } from 'node:crypto';
import type { Clock } from '../../domain/ports/clock.ts';
import type { RedisClient } from './connection.ts';

export interface KnownAccountsOptions {
  readonly clock: Clock;
  /** How long an account seen to exist is taken on trust: the bound for a loss nothing below detects. */
  readonly rememberMs: number;
  /** A remembered account is used only if the store's epoch was confirmed unchanged this recently. */
  readonly confirmEveryMs: number;
  /** Accounts remembered at most; past it the oldest is dropped (and looked up again when next asked). */
  readonly max: number;
}

/** Reads the epoch, or sets a fresh one when it is missing (first start, or the data was lost). */
const EPOCH_LUA = `
local epoch = redis.call('GET', KEYS[1])
if epoch then return epoch end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`;

/**
 * `exists` for accounts on Redis without a round trip per request. An account exists until the store
 * loses data (there is no deletion), so accounts seen to exist are remembered, and forgotten when the
 * store may have lost data:
 * - at once when the connection closes (Redis restarted or failed over; a cluster node dropped): what
 *   the server holds after it may not be what it held before;
 * - when the epoch differs: a random value the store keeps beside the accounts, in their hash slot,
 *   which FLUSHALL, FLUSHDB or a restart without persistence removes. It is read at most once per
 *   `confirmEveryMs`, lazily: a remembered account is only answered from memory when the last read
 *   was sent less than `confirmEveryMs` ago, otherwise the answer waits for a fresh read;
 * - each entry after `rememberMs` whatever happens, which bounds a loss that neither shows (a key
 *   deleted or evicted by hand, a failover to a replica that missed the last writes).
 * Only positive answers are remembered: an account created a moment ago on another instance is seen.
 */
export function knownAccounts(redis: RedisClient, keys: { readonly byId: string; readonly epoch: string }, options: KnownAccountsOptions) {
  const { clock, rememberMs, confirmEveryMs, max } = options;
  /** userId → when the HEXISTS that saw it was sent; insertion order is age order. */
  const known = new Map<string, number>();
  /** Bumped on every forget, so an answer that was in flight across one is not remembered. */
  let generation = 0;
  let epoch: string | null = null;
  let confirmedAt = -Infinity;
  let confirming: Promise<void> | null = null;

  const forget = () => {
    known.clear();
    generation += 1;
    confirmedAt = -Infinity;
  };
  redis.on('close', forget);
  redis.on('-node', forget);

  /** One epoch read shared by every request that needs it; forgets everything when it changed. */
  const confirm = () =>
    (confirming ??= (async () => {
      const sentAt = clock.now();
      try {
        const current = String(await redis.eval(EPOCH_LUA, 1, keys.epoch, randomUUID()));
        if (current !== epoch) {
          forget();
          epoch = current;
        }
        confirmedAt = sentAt;
      } finally {
        confirming = null;
      }
    })());

  return {
    async exists(userId: string): Promise<boolean> {
      const seenAt = known.get(userId);
      if (seenAt !== undefined) {
        const now = clock.now();
        if (now - seenAt < rememberMs) {
          if (now - confirmedAt >= confirmEveryMs) await confirm();
          if (known.has(userId)) return true;
        } else known.delete(userId);
      }
      // Nothing is remembered before the epoch is known: every remembered answer was read after an
      // epoch read on the same connection, so a later loss of the data shows as a changed epoch.
      if (epoch === null) await confirm();
      const sentAt = clock.now();
      const asked = generation;
      const found = (await redis.hexists(keys.byId, userId)) === 1;
      if (found && asked === generation) {
        if (known.size >= max) known.delete(known.keys().next().value!);
        known.set(userId, sentAt);
      }
      return found;
    },
    /** Accounts remembered now (tests). */
    size: () => known.size,
  };
}
