// The live map page: streets first (no login needed), then a login, then the stream. Operators see
// the fleet; riders request and follow their rides; drivers go online and take offers. All server
// calls go through the typed client (ridecast/client).
import { createDriverPanel } from './driver-panel.js';
import { createFleetView } from './fleet-view.js';
import { createStatsPanel, showConnection } from './panel.js';
import { createRiderPanel } from './rider-panel.js';
import { createRideWatch } from './ride-watch.js';
import { clearSession, client, login, restoreSession } from './session.js';
import { addConfiguredTiles, drawStreets } from './streets.js';

const $ = (id) => document.getElementById(id);
const FALLBACK_VIEW = [[38.72, -9.14], 14];
const EXPIRED = 'Your session expired; please log in again.';

const map = L.map('map', { preferCanvas: true, zoomSnap: 0.5, attributionControl: false });
map.setView(...FALLBACK_VIEW);
let live = null; // the running session's parts, torn down on logout

async function init() {
  await addConfiguredTiles(map);
  const bounds = await drawStreets(map);
  if (bounds) map.fitBounds(bounds, { padding: [12, 12] });
  const session = restoreSession();
  if (session) start(session);
  else showLogin();
  document.body.dataset.ready = 'true';
}

function showLogin(message = '') {
  $('login').hidden = false;
  for (const id of ['session', 'fleet-stats', 'watch', 'rider', 'driver']) $(id).hidden = true;
  const error = $('login-error');
  error.textContent = message;
  error.hidden = !message;
}

function start(session) {
  $('login').hidden = true;
  $('session').hidden = false;
  $('who').textContent = `${session.username ?? session.userId} (${session.role})`;
  const role = session.role;
  const isAdmin = role === 'admin';
  document.body.dataset.role = role;
  $('fleet-stats').hidden = !isAdmin;
  $('watch').hidden = isAdmin;
  $('rider').hidden = role !== 'rider';
  $('driver').hidden = role !== 'driver';
  for (const box of document.querySelectorAll('[data-layer]')) box.checked = true;

  const getRide = (rideId) => client.rides.get(rideId).catch(() => null);
  // Riders and drivers see their own rides only: a finished one leaves nothing behind, its driver included.
  const view = createFleetView(map, { fetchRide: getRide, forgetDriversOfFinishedRides: !isAdmin });
  if (!isAdmin) map.removeLayer(view.layers.heat);
  const panel = createStatsPanel();
  let watch = null;
  let rider = null;
  let driver = null;

  const onMessage = (m) => {
    panel.message();
    switch (m.type) {
      case 'fleet.snapshot':
        return view.snapshot(m);
      case 'driver.location':
        rider?.location(m);
        return view.driverLocation(m);
      case 'ride.status':
        watch?.status(m);
        rider?.status(m);
        driver?.status(m);
        if (view.rideStatus(m)) panel.rideRequested();
        return;
      case 'fleet.stats':
        return panel.serverStats(m);
      case 'ride.offer':
        return driver?.offer(m);
    }
  };

  const stream = client.stream({
    onMessage,
    onState: (state) => {
      showConnection(state === 'unauthorized' ? 'offline' : state);
      if (state === 'unauthorized') logout(EXPIRED);
    },
    onError: (m) => {
      watch?.refused(m);
      rider?.refused(m);
    },
  });
  if (isAdmin) stream.followFleet();
  else watch = createRideWatch({ session, stream, view, getRide });
  if (role === 'rider') rider = createRiderPanel({ map, client, stream, view, session });
  if (role === 'driver') driver = createDriverPanel({ map, client, stream, view });

  // The counts also go on the panel as data attributes: what tests (and curious operators) read.
  const counts = setInterval(() => {
    const c = view.counts();
    panel.localCounts(c);
    Object.assign($('panel').dataset, { drivers: c.available + c.onTrip, onTrip: c.onTrip, rides: c.rides, demand: c.demand });
  }, 1000);
  const stopWatching = client.onSession((s, why) => {
    if (!s && why === 'expired') logout(EXPIRED);
  });
  live = {
    stop() {
      clearInterval(counts);
      stopWatching();
      stream.close();
      panel.stop();
      watch?.stop();
      rider?.stop();
      driver?.stop();
      view.clear();
      delete document.body.dataset.role;
    },
    view,
  };
}

function logout(message = '') {
  const was = live;
  live = null;
  was?.stop();
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
