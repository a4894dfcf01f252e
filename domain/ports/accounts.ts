import type { Role } from '../actor.ts';

/** An account as the API shows it: never its password hash. */
export interface Account {
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
}

/**
 * The inbound port for accounts (HTTP `/v1/auth/…`, `/v1/users`, and every token check). Tokens are
 * the HTTP adapter's: it signs one for the account `login` or `findById` returns.
 */
export interface Accounts {
  /** 409 USERNAME_TAKEN when the name, folded (case, width), is in use. */
  create(username: string, password: string, role: Role): Promise<Account>;
  /**
   * 401 INVALID_CREDENTIALS for a wrong name or password (the same answer, in the same time); 429
   * RATE_LIMITED once failed logins for the account or from `address` pass their limit.
   */
  login(username: string, password: string, address: string): Promise<Account>;
  /** The account a token names, or null when the store no longer has it (refresh, ACCOUNT_GONE). */
  findById(userId: string): Promise<Account | null>;
  /** Whether the account a token names is still there (every authenticated request asks; ACCOUNT_GONE). */
  exists(userId: string): Promise<boolean>;
}
