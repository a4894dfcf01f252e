// Audits of the log: what "never two rides at once" and "once per ride" mean, checked on the events.

interface LoggedEvent {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: { readonly key: string; readonly version: number; readonly eventId: string };
}

export interface Audit {
  readonly rides: number;
  readonly rideEvents: number;
  readonly driverEvents: number;
  /** Per driver, in rides-stream order: an offer or assignment while another offer/ride was open. */
  readonly doubleAssignments: string[];
  /** Drivers stream folded per driver: a hold while not free, an assignment while busy. */
  readonly driverStreamViolations: string[];
  /** Entity versions not exactly 1..n (two writers won the same version). */
  readonly versionViolations: string[];
  /** Events that must happen at most once per ride (TripCompleted, FareCalculated, PaymentCaptured, RideRated, DriverAssigned, DriverFreed). */
  readonly duplicates: string[];
  /** OfferExpired/OfferDeclined/OfferWithdrawn without an open offer to that driver just before. */
  readonly orphanOfferEnds: string[];
  /** Fan-out: another driver's offer of the ride still open when the ride was accepted (it must be withdrawn first). */
  readonly offersLeftOpen: string[];
  readonly counts: Record<string, number>;
}

const ONCE_PER_RIDE = ['RideRequested', 'RideAccepted', 'DriverArrived', 'TripStarted', 'TripCompleted', 'FareCalculated', 'PaymentCaptured', 'RideRated', 'RideCancelled', 'RideUnmatched'];

export function auditLog(rides: readonly LoggedEvent[], drivers: readonly LoggedEvent[]): Audit {
  const doubleAssignments: string[] = [];
  const driverStreamViolations: string[] = [];
  const versionViolations: string[] = [];
  const duplicates: string[] = [];
  const orphanOfferEnds: string[] = [];
  const offersLeftOpen: string[] = [];
  const counts: Record<string, number> = {};

  const versions = new Map<string, number>();
  const checkVersion = (stream: string, e: LoggedEvent) => {
    const id = `${stream}/${e.metadata.key}`;
    const expected = (versions.get(id) ?? 0) + 1;
    if (e.metadata.version !== expected) versionViolations.push(`${id}: ${e.type} has version ${e.metadata.version}, expected ${expected} (${e.metadata.eventId})`);
    versions.set(id, e.metadata.version);
  };

  // Rides stream, in log order: each driver's open offer or ride.
  type Open = { rideId: string; phase: 'offered' | 'assigned' };
  const open = new Map<string, Open>();
  const offeredTo = new Map<string, string>();
  const perRide = new Map<string, Map<string, number>>();
  for (const e of rides) {
    counts[e.type] = (counts[e.type] ?? 0) + 1;
    checkVersion('rides', e);
    const rideId = e.metadata.key;
    const d = e.data as { driverId?: string };
    const mine = perRide.get(rideId) ?? new Map<string, number>();
    perRide.set(rideId, mine);
    mine.set(e.type, (mine.get(e.type) ?? 0) + 1);
    switch (e.type) {
      case 'RideOffered': {
        const now = open.get(d.driverId!);
        if (now) doubleAssignments.push(`${d.driverId} offered ${rideId} while ${now.phase} ${now.rideId} (${e.metadata.eventId})`);
        open.set(d.driverId!, { rideId, phase: 'offered' });
        offeredTo.set(rideId, d.driverId!);
        break;
      }
      case 'OfferExpired':
      case 'OfferDeclined':
      case 'OfferWithdrawn': {
        const now = open.get(d.driverId!);
        if (!now || now.rideId !== rideId || now.phase !== 'offered') orphanOfferEnds.push(`${e.type} ${rideId} for ${d.driverId} without its open offer (${e.metadata.eventId})`);
        else open.delete(d.driverId!);
        offeredTo.delete(rideId);
        break;
      }
      case 'RideAccepted': {
        const now = open.get(d.driverId!);
        if (!now || now.rideId !== rideId) doubleAssignments.push(`${d.driverId} accepted ${rideId} while ${now ? `${now.phase} ${now.rideId}` : 'holding no offer for it'} (${e.metadata.eventId})`);
        for (const [driverId, o] of open)
          if (driverId !== d.driverId && o.rideId === rideId && o.phase === 'offered') offersLeftOpen.push(`${driverId}'s offer of ${rideId} still open when ${d.driverId} accepted it (${e.metadata.eventId})`);
        open.set(d.driverId!, { rideId, phase: 'assigned' });
        offeredTo.delete(rideId);
        break;
      }
      case 'TripCompleted':
      case 'RideCancelled':
      case 'RideUnmatched': {
        for (const [driverId, o] of open) if (o.rideId === rideId) open.delete(driverId);
        offeredTo.delete(rideId);
        break;
      }
    }
  }
  for (const [rideId, types] of perRide)
    for (const t of ONCE_PER_RIDE) if ((types.get(t) ?? 0) > 1) duplicates.push(`${rideId}: ${t} × ${types.get(t)}`);

  // Drivers stream, folded per driver as the decider would.
  const state = new Map<string, { offered: string | null; ride: string | null; available: boolean }>();
  const perDriverRide = new Map<string, number>();
  for (const e of drivers) {
    counts[e.type] = (counts[e.type] ?? 0) + 1;
    checkVersion('drivers', e);
    const s = state.get(e.metadata.key) ?? { offered: null, ride: null, available: false };
    const d = e.data as { rideId?: string; available?: boolean };
    switch (e.type) {
      case 'DriverAvailabilityChanged':
        s.available = !!d.available;
        break;
      case 'DriverOfferHeld':
        if (s.offered !== null || s.ride !== null || !s.available)
          driverStreamViolations.push(`${e.metadata.key} held for ${d.rideId} while offered=${s.offered} ride=${s.ride} available=${s.available} (${e.metadata.eventId})`);
        s.offered = d.rideId!;
        break;
      case 'DriverOfferReleased':
        if (s.offered === d.rideId) s.offered = null;
        break;
      case 'DriverAssigned':
        if (s.ride !== null) driverStreamViolations.push(`${e.metadata.key} assigned ${d.rideId} while on ${s.ride} (${e.metadata.eventId})`);
        s.offered = null;
        s.ride = d.rideId!;
        break;
      case 'DriverFreed':
        if (s.ride === d.rideId) s.ride = null;
        break;
    }
    state.set(e.metadata.key, s);
    if (e.type === 'DriverAssigned' || e.type === 'DriverFreed') {
      const k = `${e.type} ${e.metadata.key}/${d.rideId}`;
      perDriverRide.set(k, (perDriverRide.get(k) ?? 0) + 1);
    }
  }
  for (const [k, n] of perDriverRide) if (n > 1) duplicates.push(`${k} × ${n}`);

  return { rides: perRide.size, rideEvents: rides.length, driverEvents: drivers.length, doubleAssignments, driverStreamViolations, versionViolations, duplicates, orphanOfferEnds, offersLeftOpen, counts };
}
