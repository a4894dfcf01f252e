import type { PaymentGateway, PaymentOutcome } from '../../domain/ports/payment.ts';

/**
 * The embedded payment gateway: an in-process ledger. One charge per ride, ever; a repeated
 * capture returns the first outcome. `declineNext`/`declineAll` make the failure path real.
 */
export function getInMemoryPaymentLedger() {
  const byRide = new Map<string, PaymentOutcome>();
  let declining = 0;
  let declineAll = false;
  let sequence = 0;
  const gateway: PaymentGateway & {
    charges(): { rideId: string; amount: number; currency: string }[];
    declineNext(count?: number): void;
    setDeclineAll(on: boolean): void;
  } = {
    async capture({ rideId, amount, currency }) {
      const previous = byRide.get(rideId);
      if (previous?.captured) return previous;
      if (declineAll || declining > 0) {
        declining = Math.max(0, declining - 1);
        const failed: PaymentOutcome = { captured: false, reason: 'card declined' };
        byRide.set(rideId, failed);
        return failed;
      }
      const captured: PaymentOutcome = { captured: true, paymentId: `pay_${++sequence}`, amount, currency };
      byRide.set(rideId, captured);
      return captured;
    },
    charges() {
      return [...byRide].flatMap(([rideId, o]) => (o.captured ? [{ rideId, amount: o.amount, currency: o.currency }] : []));
    },
    declineNext(count = 1) {
      declining += count;
    },
    setDeclineAll(on) {
      declineAll = on;
    },
  };
  return gateway;
}
