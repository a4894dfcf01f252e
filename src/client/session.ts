// Who the client is logged in as, and keeping that token fresh. No Node imports.
import type { TokenReply } from './types.ts';

export interface Session {
  readonly token: string;
  readonly userId: string;
  readonly role: string;
  /** When the server stops accepting the token (epoch ms). */
  readonly expiresAt: number;
  readonly username?: string;
  /** A share token watches one ride and cannot be refreshed. */
  readonly shareRideId?: string;
}

/** The claims of a JWT, read without checking its signature (the server does that). */
export function readClaims(token: string): { sub?: string; role?: string; exp?: number; share?: string } {
  try {
    const payload = token.split('.')[1] ?? '';
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      Array.from(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
    );
    const claims = JSON.parse(json) as unknown;
    return claims && typeof claims === 'object' ? (claims as ReturnType<typeof readClaims>) : {};
  } catch {
    return {};
  }
}

/** A session from a token reply; the token's own `exp` wins over `expiresIn`, which was relative to when it was sent. */
export function sessionFrom(reply: Pick<TokenReply, 'token' | 'userId' | 'role'> & { expiresIn?: number }, username?: string, now = Date.now()): Session {
  const claims = readClaims(reply.token);
  const expiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : now + (reply.expiresIn ?? 3600) * 1000;
  return {
    token: reply.token,
    userId: reply.userId,
    role: reply.role,
    expiresAt,
    ...(username !== undefined && { username }),
    ...(typeof claims.share === 'string' && { shareRideId: claims.share }),
  };
}

/** A session for a token obtained elsewhere (stored by a page, or a share link); null if it cannot be read. */
export function sessionOfToken(token: string, username?: string): Session | null {
  const claims = readClaims(token);
  if (typeof claims.sub !== 'string' || typeof claims.role !== 'string' || typeof claims.exp !== 'number') return null;
  return sessionFrom({ token, userId: claims.sub, role: claims.role }, username);
}

/** How long before expiry to renew: a fifth of the token's life, at most a minute. */
export const renewLeadMs = (session: Session, now = Date.now()) => Math.min(60_000, Math.max(0, (session.expiresAt - now) / 5));

type Timer = ReturnType<typeof setTimeout>;
/** A timer that does not keep Node alive on its own (browsers have no `unref`). */
export function background(fn: () => void, ms: number): Timer {
  const t = setTimeout(fn, ms);
  (t as { unref?: () => void }).unref?.();
  return t;
}
