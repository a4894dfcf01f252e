import type { Clock } from '../../domain/ports/clock.ts';

export interface VerifiedTokensOptions {
  /** The full check (signature, algorithm, exp, nbf): its claims, or it throws. */
  readonly verify: (token: string) => object;
  readonly clock: Clock;
  /** Tokens remembered at most; past it the oldest is dropped (it is verified again when next seen). */
  readonly max: number;
  /** How long a verified token is trusted without checking it again, whatever its exp says. */
  readonly ttlMs: number;
}

/**
 * Claims of tokens that passed the full check, keyed by the token string itself. A driver sends a
 * point every few seconds with the same token: the HMAC was a per-request cost, and so was the SHA-256
 * fast-jwt's own cache keys its entries by (it hashes every token to look it up). The string is its own
 * key, so no two tokens can share an entry; only tokens that passed are remembered, so a forged, expired,
 * not-yet-valid or other-algorithm token is checked in full every time and refused as before. An entry is
 * used strictly before the token's exp and for at most `ttlMs` after it was checked.
 */
export function verifiedTokens<Claims extends object>(options: VerifiedTokensOptions) {
  const { verify, clock, max, ttlMs } = options;
  // Insertion order is age order: the first key is the oldest entry.
  const known = new Map<string, { readonly claims: Claims; readonly until: number }>();
  return {
    /** The token's claims, from memory or from the full check (which throws for a token it refuses). */
    claims(token: string): Claims {
      const now = clock.now();
      const hit = known.get(token);
      if (hit !== undefined) {
        if (now < hit.until) return hit.claims;
        known.delete(token);
      }
      const claims = verify(token) as Claims;
      const exp = (claims as { exp?: unknown }).exp;
      const until = Math.min(now + ttlMs, typeof exp === 'number' ? exp * 1000 : Infinity);
      if (until > now) {
        if (known.size >= max) known.delete(known.keys().next().value!);
        known.set(token, { claims, until });
      }
      return claims;
    },
    size: () => known.size,
  };
}
