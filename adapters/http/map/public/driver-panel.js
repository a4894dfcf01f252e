// What a driver does on the map: say where they are, go online, take or pass offers (with a
// countdown), and step through arrive / start / complete. While online the page reports the
// car's position every 2 s; with "drive there by itself" the car heads for the pickup, then the
// dropoff, in a straight line at city speed (a demo stand-in for a phone's GPS).

const $ = (id) => document.getElementById(id);
const FINISHED = new Set(['completed', 'cancelled', 'unmatched']);
const SPEED = 14; // m/s, about 50 km/h
const REPORT_EVERY_MS = 2_000;
const NEXT = { accepted: 'arrive', arrived: 'start', in_progress: 'complete' };
const HINT = {
  accepted: 'Drive to the pickup.',
  arrived: 'Wait for the rider, then start the trip.',
  in_progress: 'Drive to the dropoff.',
  completed: 'Trip complete.',
  cancelled: 'The ride was cancelled.',
  unmatched: 'The ride was called off.',
};

const metres = (a, b) => {
  const k = Math.cos((a.lat * Math.PI) / 180);
  return Math.hypot((b.lat - a.lat) * 111_195, (b.lng - a.lng) * 111_195 * k);
};

export function createDriverPanel({ map, client, stream, view }) {
  let position = null;
  let heading = null;
  let speed = 0;
  let online = false;
  let offer = null; // the ride.offer message being shown
  let trip = null; // { rideId, status, pickup, dropoff }
  let lastReport = 0;
  let reporting = false;
  const me = L.circleMarker([0, 0], { radius: 8, color: '#111827', weight: 3, fillColor: '#2563eb', fillOpacity: 1 }).bindTooltip('You');

  const say = (text) => {
    $('driver-error').textContent = text;
    $('driver-error').hidden = !text;
  };
  const fail = (err) => say(err?.message ? err.message.replace(/^.*?: /, '') : 'Something went wrong.');

  const render = () => {
    const state = trip && !FINISHED.has(trip.status) ? 'on a trip' : online ? 'online' : 'offline';
    $('driver-status').textContent = state;
    $('driver-status').dataset.state = state === 'offline' ? 'offline' : 'live';
    $('go-online').textContent = online ? 'Go offline' : 'Go online';
    $('go-online').disabled = !position || (online && !!trip && !FINISHED.has(trip.status));
    $('driver-hint').textContent = !position ? 'Click the map to say where you are, then go online.' : online ? 'Waiting for offers. Click the map to move.' : 'Go online to receive offers.';
    $('offer').hidden = !offer;
    $('trip').hidden = !trip;
    if (trip) {
      $('trip-status').textContent = trip.status.replace('_', ' ');
      $('trip-status').dataset.state = trip.status;
      $('trip-next').textContent = HINT[trip.status] ?? '';
      for (const action of ['arrive', 'start', 'complete']) $(`trip-${action}`).hidden = NEXT[trip.status] !== action;
      $('trip-cancel').hidden = FINISHED.has(trip.status) || trip.status === 'in_progress';
      $('trip-done').hidden = !FINISHED.has(trip.status);
    }
  };

  const moveTo = (p) => {
    position = p;
    me.setLatLng([p.lat, p.lng]);
    if (!map.hasLayer(me)) me.addTo(map);
  };

  const report = async (now) => {
    if (!position || reporting || (!online && !trip)) return;
    reporting = true;
    lastReport = now;
    try {
      const reply = await client.drivers.reportLocations({ lat: position.lat, lng: position.lng, recordedAt: now, heading, speed });
      if (reply.rejected > 0) say(reply.rejections[0]?.message ?? 'the position was refused');
    } catch (err) {
      fail(err);
    } finally {
      reporting = false;
    }
  };

  // One tick a second: count the offer down, drive if asked to, report when due.
  let lastTick = Date.now();
  const tick = () => {
    const now = Date.now();
    const dt = (now - lastTick) / 1000;
    lastTick = now;
    if (offer) {
      const left = Math.max(0, Math.ceil((Date.parse(offer.expiresAt) - now) / 1000));
      $('offer-countdown').textContent = String(left);
      if (left === 0) passOn('The offer expired.');
    }
    const target = trip?.status === 'accepted' ? trip.pickup : trip?.status === 'in_progress' ? trip.dropoff : null;
    speed = 0;
    if (target && position && $('auto-drive').checked) {
      const d = metres(position, target);
      if (d > 3) {
        const f = Math.min(1, (SPEED * dt) / d);
        heading = (Math.atan2((target.lng - position.lng) * Math.cos((position.lat * Math.PI) / 180), target.lat - position.lat) * 180) / Math.PI;
        heading = (heading + 360) % 360;
        speed = Math.min(SPEED, d / Math.max(dt, 0.001));
        moveTo({ lat: position.lat + (target.lat - position.lat) * f, lng: position.lng + (target.lng - position.lng) * f });
      }
    }
    if (now - lastReport >= REPORT_EVERY_MS) void report(now);
  };
  const timer = setInterval(tick, 1000);

  const onMapClick = (event) => {
    moveTo({ lat: event.latlng.lat, lng: event.latlng.lng });
    lastReport = 0;
    render();
  };
  map.on('click', onMapClick);

  /** The offer is gone (declined, expired, taken back): off the panel and off the map. */
  const passOn = (why = '') => {
    if (!offer) return;
    view.forgetRide(offer.rideId);
    offer = null;
    say(why);
    render();
  };

  const act = (action) => async () => {
    if (!trip) return;
    say('');
    try {
      const ride = await client.rides[action](trip.rideId);
      if (trip && ride.rideId === trip.rideId) trip.status = ride.status;
      if (ride.status === 'completed') $('trip-fare').textContent = ride.fare ? `Fare ${ride.fare.amount.toFixed(2)} ${ride.fare.currency}` : '';
      render();
    } catch (err) {
      fail(err);
    }
  };
  $('trip-arrive').onclick = act('arrive');
  $('trip-start').onclick = act('start');
  $('trip-complete').onclick = act('complete');
  $('trip-cancel').onclick = act('cancel');
  $('trip-done').onclick = () => {
    if (trip) stream.unfollow(trip.rideId);
    trip = null;
    $('trip-fare').textContent = '';
    render();
  };

  $('go-online').onclick = async () => {
    say('');
    try {
      const reply = await client.drivers.setAvailability(!online);
      online = reply.available;
      if (online) void report(Date.now());
      render();
    } catch (err) {
      fail(err);
    }
  };
  $('accept-offer').onclick = async () => {
    if (!offer) return;
    const taken = offer;
    try {
      const ride = await client.rides.accept(taken.rideId);
      offer = null;
      trip = { rideId: ride.rideId, status: ride.status, pickup: ride.pickup, dropoff: ride.dropoff };
      stream.follow(ride.rideId);
      view.rideStatus({ rideId: ride.rideId, status: ride.status, pickup: ride.pickup, dropoff: ride.dropoff, driverId: ride.driverId });
      say('');
      render();
    } catch (err) {
      passOn();
      fail(err);
    }
  };
  $('decline-offer').onclick = async () => {
    if (!offer) return;
    const passed = offer;
    passOn();
    await client.rides.decline(passed.rideId).catch(fail);
  };

  render();
  return {
    offer(m) {
      if (trip && !FINISHED.has(trip.status)) return;
      offer = m;
      const km = (m.distanceMeters / 1000).toFixed(1);
      $('offer-details').textContent = `Pickup ${km} km away, about ${Math.max(1, Math.round(m.etaSeconds / 60))} min. Trip ${(metres(m.pickup, m.dropoff) / 1000).toFixed(1)} km.`;
      $('offer-countdown').textContent = String(Math.max(0, Math.ceil((Date.parse(m.expiresAt) - Date.now()) / 1000)));
      view.rideStatus({ rideId: m.rideId, status: 'offered', pickup: m.pickup, dropoff: m.dropoff });
      say('');
      render();
    },
    status(m) {
      // The offer ended without us (expired, or the rider cancelled): let it go.
      if (offer && m.rideId === offer.rideId && m.status !== 'offered') passOn(m.status === 'cancelled' ? 'The rider cancelled.' : 'The offer lapsed.');
      if (!trip || m.rideId !== trip.rideId) return;
      trip.status = m.status;
      if (m.event === 'FareCalculated' && typeof m.amount === 'number') $('trip-fare').textContent = `Fare ${m.amount.toFixed(2)} ${m.currency ?? ''}`.trim();
      render();
    },
    stop() {
      clearInterval(timer);
      map.off('click', onMapClick);
      if (map.hasLayer(me)) map.removeLayer(me);
      for (const id of ['go-online', 'accept-offer', 'decline-offer', 'trip-arrive', 'trip-start', 'trip-complete', 'trip-cancel', 'trip-done']) $(id).onclick = null;
      say('');
    },
  };
}
