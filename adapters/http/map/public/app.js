// The live map page: streets first (no login needed), then a login, then the stream.
import { createFleetView } from './fleet-view.js';
import { createLiveSocket } from './live-socket.js';
import { createStatsPanel, showConnection } from './panel.js';
import { createRideWatch } from './ride-watch.js';
import { clearSession, getJson, isExpired, loadSession, login } from './session.js';
import { addConfiguredTiles, drawStreets } from './streets.js';

const $ = (id) => document.getElementById(id);
const FALLBACK_VIEW = [[38.72, -9.14], 14];

const map = L.map('map', { preferCanvas: true, zoomSnap: 0.5, attributionControl: false });
map.setView(...FALLBACK_VIEW);
let live = null; // the running session's parts, torn down on logout

async function init() {
  await addConfiguredTiles(map);
  const bounds = await drawStreets(map);
  if (bounds) map.fitBounds(bounds, { padding: [12, 12] });
  const session = loadSession();
  if (session) start(session);
  else showLogin();
  document.body.dataset.ready = 'true';
}

function showLogin(message = '') {
  $('login').hidden = false;
  $('session').hidden = true;
  $('fleet-stats').hidden = true;
  $('watch').hidden = true;
  const error = $('login-error');
  error.textContent = message;
  error.hidden = !message;
}

function start(session) {
  $('login').hidden = true;
  $('session').hidden = false;
  $('who').textContent = `${session.username} (${session.role})`;
  const isAdmin = session.role === 'admin';
  $('fleet-stats').hidden = !isAdmin;
  $('watch').hidden = isAdmin;
  for (const box of document.querySelectorAll('[data-layer]')) box.checked = true;

  const fetchJson = (path) => getJson(session, path);
  const view = createFleetView(map, { fetchRide: (rideId) => fetchJson(`/v1/rides/${encodeURIComponent(rideId)}`) });
  if (!isAdmin) map.removeLayer(view.layers.heat);
  const panel = createStatsPanel();
  let watch = null;

  const onMessage = (m) => {
    panel.message();
    switch (m.type) {
      case 'fleet.snapshot':
        return view.snapshot(m);
      case 'driver.location':
        return view.driverLocation(m);
      case 'ride.status':
        watch?.status(m);
        if (view.rideStatus(m)) panel.rideRequested();
        return;
      case 'fleet.stats':
        return panel.serverStats(m);
      case 'ride.offer':
        // A driver follows what they are offered, to see it on the map.
        return watch?.follow(m.rideId);
      case 'error':
        return watch?.refused(m);
    }
  };

  const socket = createLiveSocket({
    token: session.token,
    onMessage,
    onState: showConnection,
    onUnauthorized: () => {
      if (!isExpired(session)) return false;
      logout('Your session expired; please log in again.');
      return true;
    },
  });
  if (isAdmin) socket.followFleet();
  else watch = createRideWatch({ session, socket, view, getJson: fetchJson });

  // The counts also go on the panel as data attributes: what tests (and curious operators) read.
  const counts = setInterval(() => {
    const c = view.counts();
    panel.localCounts(c);
    Object.assign($('panel').dataset, { drivers: c.available + c.onTrip, onTrip: c.onTrip, rides: c.rides, demand: c.demand });
  }, 1000);
  const expiry = setTimeout(() => logout('Your session expired; please log in again.'), Math.max(0, session.expiresAt * 1000 - Date.now()));
  live = {
    stop() {
      clearInterval(counts);
      clearTimeout(expiry);
      socket.close();
      panel.stop();
      watch?.stop();
      view.clear();
    },
    view,
  };
}

function logout(message = '') {
  live?.stop();
  live = null;
  clearSession();
  showLogin(message);
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData(form);
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const session = await login(String(data.get('username') ?? ''), String(data.get('password') ?? ''));
    form.reset();
    start(session);
  } catch (err) {
    showLogin(err.message);
  } finally {
    button.disabled = false;
  }
});

$('logout').addEventListener('click', () => logout());

for (const box of document.querySelectorAll('[data-layer]')) {
  box.addEventListener('change', () => {
    const layer = live?.view.layers[box.dataset.layer];
    if (!layer) return;
    if (box.checked) map.addLayer(layer);
    else map.removeLayer(layer);
  });
}

init();
