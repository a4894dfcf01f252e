// The status panel: connection state, fleet counts from the server and rates measured here.

const $ = (id) => document.getElementById(id);
const format = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : '–');

export function showConnection(state) {
  const pill = $('connection');
  pill.dataset.state = state;
  pill.textContent = state;
}

/** `fleet.stats` from the server, with fallbacks measured locally until the first one arrives. */
export function createStatsPanel() {
  let messages = 0;
  let lastServer = null;
  const requests = [];
  const tick = setInterval(() => {
    $('stat-mps').textContent = format(messages / 2);
    messages = 0;
    const cutoff = Date.now() - 60_000;
    while (requests.length && requests[0] < cutoff) requests.shift();
    $('stat-rpm').textContent = format(requests.length);
  }, 2000);
  return {
    message() {
      messages++;
    },
    rideRequested() {
      requests.push(Date.now());
    },
    serverStats(s) {
      lastServer = s;
      $('stat-online').textContent = format(s.driversOnline);
      $('stat-on-trip').textContent = format(s.driversOnTrip);
      $('stat-active').textContent = format(s.activeRides);
      $('stat-completed').textContent = format(s.ridesCompleted);
      $('stat-lps').textContent = format(s.locationsPerSecond);
      // Dispatch quality; null until a ride was matched or given up (and until a driver arrived).
      $('stat-match-rate').textContent = s.matchRate == null ? '–' : `${(s.matchRate * 100).toFixed(1)}%`;
      $('stat-pickup').textContent = s.meanPickupSeconds == null ? '–' : `${format(s.meanPickupSeconds)} s`;
    },
    localCounts(c) {
      if (lastServer) return;
      $('stat-online').textContent = format(c.available + c.onTrip);
      $('stat-on-trip').textContent = format(c.onTrip);
      $('stat-active').textContent = format(c.rides);
    },
    stop() {
      clearInterval(tick);
    },
  };
}
