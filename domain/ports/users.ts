import type { Role } from '../actor.ts';

export interface User {
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
  /** scrypt hash with its salt and parameters; never leaves the store except to be verified. */
  readonly passwordHash: string;
}

/**
 * Where accounts live. Names are looked up by a key: the folded name (see src/app/accounts.ts)
 * for accounts made since names were folded, the name as written for older ones.
 * `create` fails with USERNAME_TAKEN when the key is in use.
 */
export interface UserStore {
  /** Stores the account under `nameKey` (default: its username as written). */
  create(user: User, nameKey?: string): Promise<void>;
  findByUsername(nameKey: string): Promise<User | null>;
  findById(userId: string): Promise<User | null>;
  /** Whether the account is still there: checked on every authenticated request, so no document is fetched. Absent: `findById`. */
  exists?(userId: string): Promise<boolean>;
  /**
   * Adds the folded key of every account stored under its name as written, so names made before
   * folding are taken in every form too. Keys already taken stay with their account.
   * Absent where no such accounts can exist (in-process stores).
   */
  foldNames?(fold: (username: string) => string): Promise<void>;
}
