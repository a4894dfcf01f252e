import type { Offer } from './state.ts';

/**
 * When an offer expires: it may be accepted up to and including `expiresAt`, and expired from
 * `expiresAt` on. At that one millisecond both may be decided; the log keeps whichever came first
 * and the decider refuses the other.
 */
export const offerOpen = (offer: Offer, at: number): boolean => at <= offer.expiresAt;

/** The offer's time is up: the matcher may expire it, and it is no longer pushed to the driver. */
export const offerLapsed = (offer: Offer, at: number): boolean => at >= offer.expiresAt;
