import { createHash } from 'node:crypto';
import type { LatLng } from '../../domain/geo.ts';

/**
 * What a ride claim holds: the ride it names, when it was taken, and (for an Idempotency-Key) a
 * fingerprint of the request body. `r_x|1767000000000|9f…`. A bare ride id is a claim written
 * before this format; it has no time and no fingerprint.
 */
export interface RideClaim {
  readonly rideId: string;
  readonly claimedAtMs: number | null;
  readonly fingerprint: string | null;
}

/**
 * How long a claim may name a ride that is not in the log yet. The request that took it is either
 * still appending (a few seconds at most: backends time out well before this) or died between its
 * claim and its append; past this age it is the latter, and the claim may be taken over.
 */
export const IN_FLIGHT_MAX_MS = 30_000;

export const encodeClaim = (c: RideClaim) => [c.rideId, c.claimedAtMs ?? '', c.fingerprint ?? ''].join('|');

export function decodeClaim(value: string): RideClaim {
  const [rideId = '', at = '', fingerprint = ''] = value.split('|');
  const claimedAtMs = at === '' ? null : Number(at);
  return { rideId, claimedAtMs: Number.isFinite(claimedAtMs) ? claimedAtMs : null, fingerprint: fingerprint || null };
}

/** A claim whose ride never appeared: its request is gone (older format: no time, so no way to wait). */
export const abandoned = (c: RideClaim, nowMs: number) => c.claimedAtMs === null || nowMs - c.claimedAtMs > IN_FLIGHT_MAX_MS;

/** The request body's identity, independent of key order and of how a number was written. */
export function fingerprintOf(input: { pickup: LatLng; dropoff: LatLng }): string {
  const canonical = JSON.stringify([input.pickup.lat, input.pickup.lng, input.dropoff.lat, input.dropoff.lng]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 22);
}
