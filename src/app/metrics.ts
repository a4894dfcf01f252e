import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration, type LabelValues } from 'prom-client';

/**
 * A counter the hot path bumps per point or per push: `tally(labels).n += k` is a plain number,
 * handed to prom-client when the counter is read (a scrape, `get()`). prom-client's own inc builds a
 * label object, validates and hashes it and looks the series up, every time.
 */
function talliedCounter<L extends string>(config: CounterConfiguration<L>) {
  const cells = new Map<string, { readonly labels: LabelValues<L>; n: number }>();
  const counter = new Counter<L>({
    ...config,
    collect() {
      for (const cell of cells.values()) {
        if (cell.n > 0) this.inc(cell.labels, cell.n);
        cell.n = 0;
      }
    },
  });
  return Object.assign(counter, {
    /** The cell of one label set, to keep: `.n += k`. */
    tally(labels: LabelValues<L> = {}): { n: number } {
      const key = JSON.stringify(labels);
      let cell = cells.get(key);
      if (!cell) cells.set(key, (cell = { labels, n: 0 }));
      return cell;
    },
  });
}

/** The Prometheus metrics every part reports to; one registry per service instance. */
export function makeMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    eventsAppended: talliedCounter({ name: 'ridecast_events_appended_total', help: 'Events appended to the log', labelNames: ['stream'], registers: [registry] }),
    locationsAccepted: talliedCounter({ name: 'ridecast_locations_accepted_total', help: 'GPS points accepted', registers: [registry] }),
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
    pushed: talliedCounter({ name: 'ridecast_push_messages_total', help: 'Messages pushed to sockets', labelNames: ['type'], registers: [registry] }),
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
