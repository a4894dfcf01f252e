import type { Role } from '../actor.ts';

export interface User {
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
  /** scrypt hash with its salt and parameters; never leaves the store except to be verified. */
  readonly passwordHash: string;
}

/** Where accounts live. `create` fails with USERNAME_TAKEN when the name is in use. */
export interface UserStore {
  create(user: User): Promise<void>;
  findByUsername(username: string): Promise<User | null>;
  findById(userId: string): Promise<User | null>;
}
