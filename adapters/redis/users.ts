import type { RedisClient } from './connection.ts';

import { DomainError } from '../../domain/errors.ts';
import { systemClock } from '../../domain/ports/clock.ts';
import type { User, UserStore } from '../../domain/ports/users.ts';
import { knownAccounts, type KnownAccountsOptions } from './known-accounts.ts';

/**
 * How long `exists` trusts what it saw (README "Per-request cost on the front door"): a loss of the
 * whole store (restart without persistence, FLUSHALL) is seen within a second, any other within 30 s.
 */
export const KNOWN_ACCOUNTS: Omit<KnownAccountsOptions, 'clock'> = { rememberMs: 30_000, confirmEveryMs: 1_000, max: 100_000 };

/** Claims the name and stores the account in one script, so two instances cannot both create it. */
const CREATE_LUA = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1`;

/** Accounts on Redis, shared by every instance: `{users}` keeps both hashes in one Cluster slot. */
export function getRedisUserStore(redis: RedisClient, prefix = 'ridecast:', known: Partial<KnownAccountsOptions> = {}): UserStore {
  const byName = `${prefix}{users}:by-name`;
  const byId = `${prefix}{users}:by-id`;
  // The epoch sits in the accounts' hash slot, so it lives and dies with them on a cluster too.
  const accounts = knownAccounts(redis, { byId, epoch: `${prefix}{users}:epoch` }, { clock: systemClock, ...KNOWN_ACCOUNTS, ...known });
  const parse = (json: string | null) => (json ? (JSON.parse(json) as User) : null);
  return {
    async create(user, nameKey = user.username) {
      const created = await redis.eval(CREATE_LUA, 2, byName, byId, nameKey, user.userId, JSON.stringify(user));
      if (created === 0) throw new DomainError('USERNAME_TAKEN', 409, `username ${user.username} is taken`);
    },
    async findByUsername(username) {
      const userId = await redis.hget(byName, username);
      return userId ? parse(await redis.hget(byId, userId)) : null;
    },
    async findById(userId) {
      return parse(await redis.hget(byId, userId));
    },
    // Asked on every authenticated request: answered from memory while the store is known not to have
    // lost data (known-accounts.ts), otherwise an integer reply, not the account's JSON, per request.
    exists: accounts.exists,
    async foldNames(fold) {
      let cursor = '0';
      do {
        const [next, flat] = await redis.hscan(byName, cursor, 'COUNT', 500);
        cursor = next;
        const tx = redis.multi();
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const folded = fold(flat[i]!);
          if (folded !== flat[i]) tx.hsetnx(byName, folded, flat[i + 1]!);
        }
        await tx.exec();
      } while (cursor !== '0');
    },
  };
}

