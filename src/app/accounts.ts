import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';
import type { Role } from '../../domain/actor.ts';
import { DomainError } from '../../domain/errors.ts';
import type { AttemptCounter } from '../../domain/ports/attempts.ts';
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

/**
 * The form a username is unique in: NFKC (full-width letters, ligatures and other compatibility
 * forms become their plain letters) then case folded (upper then lower, so `ß` folds like `SS`).
 * `Admin`, `ADMIN` and `Ａｄｍｉｎ` are one name.
 */
export const foldUsername = (name: string) => name.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');

export interface LoginLimits {
  /** Failed logins for one account (any address) in a window; past it, 429 until the window ends. */
  readonly perAccount: number;
  /** Failed logins from one client address (any account) in a window. */
  readonly perAddress: number;
  readonly windowMs: number;
}
export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perAccount: 10, perAddress: 100, windowMs: 15 * 60_000 };

export interface AccountOptions {
  /** Where failed logins are counted (shared by every instance on Redis). */
  readonly attempts: AttemptCounter;
  readonly limits?: Partial<LoginLimits>;
  /** The password check (tests count its calls). */
  readonly verifyPassword?: (password: string, stored: string) => Promise<boolean>;
  /**
   * The configured admin: created at start, and again when a login for it finds no account (the
   * user store lost its data, e.g. Redis restarted without persistence), so operators are never locked out.
   */
  readonly admin?: { readonly username: string; readonly password: string };
}

const attemptKey = (kind: 'account' | 'address', id: string) => `login:${kind}:${createHash('sha256').update(id).digest('base64url')}`;

/** Accounts: create and verify. Passwords are hashed here and never logged or returned. */
export function makeAccounts(users: UserStore, newId: (prefix: string) => string, options: AccountOptions) {
  const { attempts, verifyPassword: verify = verifyPassword } = options;
  const limits = { ...DEFAULT_LOGIN_LIMITS, ...options.limits };
  // An unknown name is checked against this, so it costs one scrypt like a known one.
  const dummyHash = hashPassword(randomBytes(16).toString('base64'));
  dummyHash.catch(() => undefined);

  /** The name as written first (accounts stored before folding), then its folded form. */
  const find = async (username: string) => (await users.findByUsername(username)) ?? (await users.findByUsername(foldUsername(username)));

  return {
    async create(username: string, password: string, role: Role): Promise<Omit<User, 'passwordHash'>> {
      if (await find(username)) throw new DomainError('USERNAME_TAKEN', 409, `username ${username} is taken`);
      const prefix = role === 'driver' ? 'd' : role === 'rider' ? 'u' : role === 'admin' ? 'a' : 's';
      const user: User = { userId: newId(prefix), username, role, passwordHash: await hashPassword(password) };
      // Stored under the folded name, atomically: two racing creates of `Bob` and `bob` make one account.
      await users.create(user, foldUsername(username));
      return { userId: user.userId, username, role };
    },
    /** Folds the names of accounts stored before names were folded (start-up, idempotent). */
    async foldLegacyNames() {
      await users.foldNames?.(foldUsername);
    },
    /**
     * Creates the account unless it exists (configured admin, demo users); `created` says which, so
     * start-up can tell the operator whether the configured password applies (an existing account keeps its own).
     */
    async ensure(username: string, password: string, role: Role): Promise<Omit<User, 'passwordHash'> & { created: boolean }> {
      const existing = await find(username);
      if (existing) return { userId: existing.userId, username, role: existing.role, created: false };
      try {
        return { ...(await this.create(username, password, role)), created: true };
      } catch (err) {
        // Two instances starting together: the other one created it a moment ago.
        if (!(err instanceof DomainError && err.code === 'USERNAME_TAKEN')) throw err;
        const created = await find(username);
        if (!created) throw err;
        return { userId: created.userId, username, role: created.role, created: false };
      }
    },
    /**
     * A login attempt from `address`. Failed logins are counted against the account (by folded name,
     * known or not) and the address; once either has reached its limit in the window, the attempt is
     * refused before the password is checked. Only failures count, so a user's own parallel logins
     * never lock them out; guesses already in flight when the limit is reached still finish (the
     * general per-address rate limit bounds such a burst). A success clears the account's window.
     * An unknown name gets the same answer as a wrong password, after one scrypt check like it, so
     * the time differs by a store lookup at most (a name not stored as written is looked up twice).
     */
    async login(username: string, password: string, address: string): Promise<User> {
      const account = attemptKey('account', foldUsername(username));
      const from = attemptKey('address', address);
      const [a, b] = await Promise.all([attempts.peek(account), attempts.peek(from)]);
      const over = [a.count >= limits.perAccount && a, b.count >= limits.perAddress && b].filter((c) => c !== false);
      if (over.length) {
        const seconds = Math.max(1, Math.ceil(Math.max(...over.map((c) => c.resetInMs)) / 1000));
        throw new DomainError('RATE_LIMITED', 429, `too many failed logins; retry in ${seconds} seconds`, { retryAfterSeconds: seconds });
      }
      let user = await find(username);
      if (!user && options.admin && foldUsername(username) === foldUsername(options.admin.username)) {
        await this.ensure(options.admin.username, options.admin.password, 'admin');
        user = await find(username);
      }
      const ok = await verify(password, user?.passwordHash ?? (await dummyHash));
      if (!user || !ok) {
        await Promise.all([attempts.hit(account, limits.windowMs), attempts.hit(from, limits.windowMs)]);
        throw new DomainError('INVALID_CREDENTIALS', 401, 'username or password is wrong');
      }
      if (a.count > 0) await attempts.reset(account);
      return user;
    },
    findById: (userId: string) => users.findById(userId),
    // Asked on every authenticated request: the store's own `exists` as it is, not wrapped in one more promise.
    exists: users.exists ? users.exists.bind(users) : async (userId: string) => (await users.findById(userId)) !== null,
  };
}

export type Accounts = ReturnType<typeof makeAccounts>;
