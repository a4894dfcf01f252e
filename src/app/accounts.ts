import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';
import type { Role } from '../../domain/actor.ts';
import { DomainError } from '../../domain/errors.ts';
import type { User, UserStore } from '../../domain/ports/users.ts';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: ScryptOptions) => Promise<Buffer>;
/** scrypt at N=2^14, r=8: ~30 ms a hash here, the cost OWASP suggests for interactive logins. */
const PARAMS = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: PARAMS.maxmem });
  return timingSafeEqual(actual, expected);
}

/** Accounts: create and verify. Passwords are hashed here and never logged or returned. */
export function makeAccounts(users: UserStore, newId: (prefix: string) => string) {
  return {
    async create(username: string, password: string, role: Role): Promise<Omit<User, 'passwordHash'>> {
      if (await users.findByUsername(username)) throw new DomainError('USERNAME_TAKEN', 409, `username ${username} is taken`);
      const prefix = role === 'driver' ? 'd' : role === 'rider' ? 'u' : role === 'admin' ? 'a' : 's';
      const user: User = { userId: newId(prefix), username, role, passwordHash: await hashPassword(password) };
      await users.create(user);
      return { userId: user.userId, username, role };
    },
    /** Creates the account unless it exists (configured admin, demo users). */
    async ensure(username: string, password: string, role: Role) {
      const existing = await users.findByUsername(username);
      if (existing) return { userId: existing.userId, username, role: existing.role };
      try {
        return await this.create(username, password, role);
      } catch (err) {
        // Two instances starting together: the other one created it a moment ago.
        if (!(err instanceof DomainError && err.code === 'USERNAME_TAKEN')) throw err;
        const created = await users.findByUsername(username);
        if (!created) throw err;
        return { userId: created.userId, username, role: created.role };
      }
    },
    async verify(username: string, password: string): Promise<User> {
      const user = await users.findByUsername(username);
      // The same answer for an unknown name and a wrong password: nothing about accounts leaks.
      if (!user || !(await verifyPassword(password, user.passwordHash)))
        throw new DomainError('INVALID_CREDENTIALS', 401, 'username or password is wrong');
      return user;
    },
    findById: (userId: string) => users.findById(userId),
  };
}

export type Accounts = ReturnType<typeof makeAccounts>;
