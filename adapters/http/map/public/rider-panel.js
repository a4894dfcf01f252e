// What a rider does on the map: pick pickup and dropoff, request, follow the offer and the driver
// coming (with ETA), the trip's timeline, the fare and payment, rate it, and look back at past rides.

const $ = (id) => document.getElementById(id);
const FINISHED = new Set(['completed', 'cancelled', 'unmatched']);
const LABELS = {
  RideRequested: 'Looking for a driver',
  RideOffered: 'Offered to a driver nearby',
  OfferDeclined: 'The driver passed; looking again',
  OfferExpired: 'No answer; looking again',
  RideAccepted: 'A driver is on the way',
  DriverArrived: 'Your driver is at the pickup',
  TripStarted: 'On the way',
  TripCompleted: 'Arrived',
  FareCalculated: 'Fare calculated',
  PaymentCaptured: 'Paid',
  PaymentFailed: 'Payment failed',
  RideRated: 'Rated',
  RideCancelled: 'Cancelled',
  RideUnmatched: 'No driver was found',
};
const HISTORY = 10;
// randomUUID needs a secure context; a LAN address over plain http is not one.
const newKey = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

const fmtPoint = (p) => `${p.lat.toFixed(4)}, ${p.lng.toFixed(4)}`;
const fmtTime = (iso) => new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const fmtMoney = (fare) => (fare ? `${fare.amount.toFixed(2)} ${fare.currency}` : '–');
export const fmtEta = (s) => (s == null ? '' : s < 60 ? 'ETA under a minute' : `ETA ${Math.round(s / 60)} min`);

export function createRiderPanel({ map, client, stream, session }) {
  const key = `ridecast.rides.${session.userId}`;
  const plan = { pickup: null, dropoff: null };
  const planLayer = L.layerGroup().addTo(map);
  let current = null; // { rideId, status }
  let stopped = false;

  const say = (text) => {
    $('rider-error').textContent = text;
    $('rider-error').hidden = !text;
  };
  const history = () => {
    try {
      const ids = JSON.parse(localStorage.getItem(key) ?? '[]');
      return Array.isArray(ids) ? ids.filter((id) => typeof id === 'string') : [];
    } catch {
      return [];
    }
  };
  const remember = (rideId) => localStorage.setItem(key, JSON.stringify([rideId, ...history().filter((id) => id !== rideId)].slice(0, HISTORY)));

  const drawPlan = () => {
    planLayer.clearLayers();
    const dot = (p, color) => L.circleMarker(p, { radius: 7, color, weight: 3, fillColor: '#fff', fillOpacity: 1 }).addTo(planLayer);
    if (plan.pickup && !current) dot(plan.pickup, '#f59e0b');
    if (plan.dropoff && !current) dot(plan.dropoff, '#dc2626');
    $('plan-pickup').textContent = plan.pickup ? fmtPoint(plan.pickup) : '–';
    $('plan-dropoff').textContent = plan.dropoff ? fmtPoint(plan.dropoff) : '–';
    $('plan-hint').textContent = !plan.pickup ? 'Click the map to set your pickup.' : !plan.dropoff ? 'Now click where you are going.' : 'Ready: request the ride, or click again to start over.';
    $('request-ride').disabled = !(plan.pickup && plan.dropoff);
  };

  const onMapClick = (event) => {
    if (current) return;
    const p = { lat: event.latlng.lat, lng: event.latlng.lng };
    if (!plan.pickup || plan.dropoff) Object.assign(plan, { pickup: p, dropoff: null });
    else plan.dropoff = p;
    drawPlan();
  };
  map.on('click', onMapClick);

  const showCurrent = () => {
    $('trip-planner').hidden = !!current;
    $('current-ride').hidden = !current;
    drawPlan();
  };

  const addStep = (label, at) => {
    const li = document.createElement('li');
    const time = document.createElement('time');
    time.textContent = at ? fmtTime(at) : '';
    li.append(time, ` ${label}`);
    $('timeline').append(li);
  };

  /** The ride view decides what the card shows; stream messages only say when to look again. */
  const render = (ride) => {
    if (!current || ride.rideId !== current.rideId) return;
    current.status = ride.status;
    const pill = $('ride-status');
    pill.textContent = ride.status.replace('_', ' ');
    pill.dataset.state = ride.status;
    $('ride-driver').textContent = ride.driverId ? `Driver ${ride.driverId}` : ride.status === 'requested' || ride.status === 'offered' ? 'Waiting for a driver…' : '';
    const done = FINISHED.has(ride.status);
    if (done) $('ride-eta').textContent = '';
    $('cancel-ride').hidden = done;
    $('ride-bill').hidden = !ride.fare && !ride.payment;
    $('ride-fare').textContent = fmtMoney(ride.fare);
    $('ride-payment').textContent = ride.payment?.status ?? '–';
    $('rating-form').hidden = ride.status !== 'completed' || !!ride.rating;
    $('rating-done').hidden = !ride.rating;
    if (ride.rating) $('rating-done').textContent = `You rated this trip ${'★'.repeat(ride.rating.stars)}${ride.rating.comment ? ` — “${ride.rating.comment}”` : ''}`;
    $('new-ride').hidden = !done;
  };
  const refresh = async () => {
    if (!current) return;
    const ride = await client.rides.get(current.rideId).catch(() => null);
    if (ride && !stopped) render(ride);
    if (ride && FINISHED.has(ride.status)) void renderPast();
  };

  const follow = (rideId, status) => {
    current = { rideId, status };
    $('timeline').replaceChildren();
    $('ride-eta').textContent = '';
    showCurrent();
    stream.follow(rideId);
    void refresh();
  };

  const renderPast = async () => {
    const ids = history().filter((id) => id !== current?.rideId || FINISHED.has(current.status));
    const rides = (await Promise.all(ids.map((id) => client.rides.get(id).catch(() => null)))).filter(Boolean);
    if (stopped) return;
    const items = rides.filter((r) => FINISHED.has(r.status)).map((r) => {
      const li = document.createElement('li');
      li.dataset.rideId = r.rideId;
      li.dataset.status = r.status;
      const when = document.createElement('time');
      when.textContent = new Date(r.requestedAt).toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'short' });
      const what = document.createElement('span');
      what.textContent = `${r.status}${r.fare ? ` · ${fmtMoney(r.fare)}` : ''}${r.rating ? ` · ${'★'.repeat(r.rating.stars)}` : ''}`;
      li.append(when, what);
      return li;
    });
    $('past-rides').replaceChildren(...items);
    $('past-empty').hidden = items.length > 0;
  };

  $('request-ride').onclick = async () => {
    if (!plan.pickup || !plan.dropoff) return;
    $('request-ride').disabled = true;
    say('');
    try {
      const { rideId, status } = await client.rides.request({ pickup: plan.pickup, dropoff: plan.dropoff }, { idempotencyKey: newKey() });
      remember(rideId);
      Object.assign(plan, { pickup: null, dropoff: null });
      follow(rideId, status);
    } catch (err) {
      say(err.message.replace(/^.*?: /, ''));
      drawPlan();
    }
  };
  $('clear-plan').onclick = () => {
    Object.assign(plan, { pickup: null, dropoff: null });
    drawPlan();
  };
  $('cancel-ride').onclick = async () => {
    if (!current) return;
    try {
      render(await client.rides.cancel(current.rideId, 'cancelled on the map'));
    } catch (err) {
      say(err.message.replace(/^.*?: /, ''));
    }
  };
  $('rating-form').onsubmit = async (event) => {
    event.preventDefault();
    if (!current) return;
    const data = new FormData(event.currentTarget);
    const stars = Number(data.get('stars'));
    const comment = String(data.get('comment') ?? '').trim();
    try {
      render(await client.rides.rate(current.rideId, comment ? { stars, comment } : { stars }));
      void renderPast();
    } catch (err) {
      say(err.message.replace(/^.*?: /, ''));
    }
  };
  $('new-ride').onclick = () => {
    if (current) stream.unfollow(current.rideId);
    current = null;
    say('');
    showCurrent();
  };

  // After a reload, the latest ride comes back if it is still going.
  const [latest] = history();
  if (latest) {
    void client.rides.get(latest).then((ride) => {
      if (!stopped && !current && !FINISHED.has(ride.status)) follow(ride.rideId, ride.status);
    }, () => {});
  }
  showCurrent();
  void renderPast();

  return {
    status(m) {
      if (!current || m.rideId !== current.rideId) return;
      addStep(LABELS[m.event] ?? m.status, m.at);
      current.status = m.status;
      void refresh();
    },
    location(m) {
      if (!current || m.rideId !== current.rideId || FINISHED.has(current.status)) return;
      $('ride-eta').textContent = fmtEta(m.etaSeconds);
    },
    refused(m) {
      if (current && m.rideId === current.rideId) say(m.message ?? m.code);
    },
    stop() {
      stopped = true;
      map.off('click', onMapClick);
      map.removeLayer(planLayer);
      for (const id of ['request-ride', 'clear-plan', 'cancel-ride', 'new-ride']) $(id).onclick = null;
      $('rating-form').onsubmit = null;
      $('timeline').replaceChildren();
      $('past-rides').replaceChildren();
      say('');
    },
  };
}
