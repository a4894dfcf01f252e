import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus metrics every part reports to; one registry per service instance. */
export function makeMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  /** Pushes counted in plain numbers per message type, handed to the counter when it is read (a scrape). */
  const pushes = new Map<string, { n: number }>();
  const m = {
    registry,
    eventsAppended: new Counter({ name: 'ridecast_events_appended_total', help: 'Events appended to the log', labelNames: ['stream'], registers: [registry] }),
    locationsAccepted: new Counter({ name: 'ridecast_locations_accepted_total', help: 'GPS points accepted', registers: [registry] }),
    locationsRejected: new Counter({
      name: 'ridecast_locations_rejected_total',
      help: 'GPS points rejected, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    offersMade: new Counter({ name: 'ridecast_offers_total', help: 'Ride offers made', registers: [registry] }),
    ridesCompleted: new Counter({ name: 'ridecast_rides_completed_total', help: 'Trips completed (seen by this instance)', registers: [registry] }),
    ridesUnmatched: new Counter({ name: 'ridecast_rides_unmatched_total', help: 'Rides nobody accepted', registers: [registry] }),
    handlerFailures: new Counter({
      name: 'ridecast_handler_failures_total',
      help: 'Event handler failures, by consumer group and kind: transient (retried until it passes) or permanent (dead-lettered after a few tries)',
      labelNames: ['consumer', 'kind'],
      registers: [registry],
    }),
    handlerRetrying: new Gauge({
      name: 'ridecast_handler_retrying_events',
      help: 'Events whose handler failed transiently (a backend refused) and has not succeeded since: retries in progress',
      labelNames: ['consumer'],
      registers: [registry],
    }),
    reconciled: new Counter({
      name: 'ridecast_reconciler_repairs_total',
      help: 'What the reconciler repaired that a lost reaction left behind, by kind',
      labelNames: ['repair'],
      registers: [registry],
    }),
    staleProjectionEvents: new Counter({
      name: 'ridecast_projection_stale_events_total',
      help: 'Redelivered or replayed events a projection skipped',
      labelNames: ['projection'],
      registers: [registry],
    }),
    sockets: new Gauge({ name: 'ridecast_websockets', help: 'Open WebSocket connections', registers: [registry] }),
    socketsClosedSlow: new Counter({ name: 'ridecast_websockets_closed_slow_total', help: 'Sockets closed for not keeping up', registers: [registry] }),
    pushed: new Counter({
      name: 'ridecast_push_messages_total',
      help: 'Messages pushed to sockets',
      labelNames: ['type'],
      registers: [registry],
      collect() {
        for (const [type, tally] of pushes) {
          if (tally.n > 0) this.inc({ type }, tally.n);
          tally.n = 0;
        }
      },
    }),
    /**
     * The tally of pushes of one message type: `.n++` per push. A push is the hottest counter (one per
     * socket per GPS point), and prom-client's inc hashes the labels and looks the series up each time.
     */
    pushTally(type: string): { n: number } {
      let tally = pushes.get(type);
      if (!tally) pushes.set(type, (tally = { n: 0 }));
      return tally;
    },
    // What the operators' dashboard (deploy/grafana) watches besides the counters above.
    pushLatency: new Histogram({
      name: 'ridecast_push_latency_seconds',
      help: "From an event's append to the log to its push to watching sockets (log + consumer delay), by message type",
      labelNames: ['type'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'ridecast_consumer_lag_seconds',
      help: 'How far behind the log each consumer group is: now minus the append time of the event it handled last',
      labelNames: ['consumer'],
      registers: [registry],
    }),
    matchSeconds: new Histogram({
      name: 'ridecast_match_seconds',
      help: 'Time to pick and hold a driver for an offer',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof makeMetrics>;
