import { describe, expect, it } from 'vitest';
import { offerLapsed, offerOpen } from '../../domain/ride/index.ts';

const offer = { driverId: 'd_1', expiresAt: 1_000_000 };

// The one millisecond at which an offer both may still be accepted and may already be expired.
describe('when an offer expires', () => {
  it('a driver may accept up to and including the expiry instant, not after', () => {
    expect(offerOpen(offer, offer.expiresAt - 1)).toBe(true);
    expect(offerOpen(offer, offer.expiresAt)).toBe(true);
    expect(offerOpen(offer, offer.expiresAt + 1)).toBe(false);
  });

  it('the matcher may expire it from the expiry instant on, not before', () => {
    expect(offerLapsed(offer, offer.expiresAt - 1)).toBe(false);
    expect(offerLapsed(offer, offer.expiresAt)).toBe(true);
    expect(offerLapsed(offer, offer.expiresAt + 1)).toBe(true);
  });
});
