export type PaymentOutcome =
  | { readonly captured: true; readonly paymentId: string; readonly amount: number; readonly currency: string }
  | { readonly captured: false; readonly reason: string };

/** Takes the rider's money for a finished ride. Must be idempotent per ride: a retry never charges twice. */
export interface PaymentGateway {
  capture(request: { rideId: string; riderId: string; amount: number; currency: string }): Promise<PaymentOutcome>;
}
