// Drivers, active rides and demand on the map, fed by the stream. Positions are applied once
// per animation frame: hundreds of drivers report every few seconds and the map only needs
// the latest point of each.

const COLORS = { available: '#16a34a', on_trip: '#2563eb', offline: '#9aa5b1', pickup: '#f59e0b', dropoff: '#dc2626' };
const FINISHED = new Set(['completed', 'cancelled', 'unmatched']);
const SILENT_DRIVER_MS = 120_000;
const DEMAND_WINDOW_MS = 15 * 60_000;
const MAX_PATH = 1000;

const isPoint = (p) => p && Number.isFinite(p.lat) && Number.isFinite(p.lng);

export function createFleetView(map, { fetchRide, forgetDriversOfFinishedRides = false }) {
  const renderer = L.canvas({ padding: 0.2 });
  const layers = {
    heat: L.heatLayer([], { radius: 22, blur: 18, maxZoom: 16, minOpacity: 0.25 }),
    rides: L.layerGroup(),
    drivers: L.layerGroup(),
  };
  for (const layer of Object.values(layers)) layer.addTo(map);

  const drivers = new Map(); // driverId → { marker, status, heardAt }
  const rides = new Map(); // rideId → { status, driverId, pickup, dropoff, markers: [], path }
  const pending = new Map(); // driverId → latest message, applied on the next frame
  let demand = []; // [{ lat, lng, at }]
  let frame = 0;

  const driverStyle = (status) => ({
    radius: status === 'on_trip' ? 6 : 5,
    color: '#fff',
    weight: 1.5,
    fillColor: COLORS[status] ?? COLORS.available,
    fillOpacity: status === 'offline' ? 0.45 : 0.95,
  });

  const placeDriver = (driverId, lat, lng, status) => {
    let d = drivers.get(driverId);
    if (!d) {
      const marker = L.circleMarker([lat, lng], { renderer, ...driverStyle(status) }).bindTooltip(driverId);
      d = { marker, status };
      drivers.set(driverId, d);
      layers.drivers.addLayer(marker);
    } else {
      d.marker.setLatLng([lat, lng]);
      if (d.status !== status) d.marker.setStyle(driverStyle(status));
    }
    d.status = status;
    d.heardAt = Date.now();
  };

  const setDriverStatus = (driverId, status) => {
    const d = drivers.get(driverId);
    if (d && d.status !== status) {
      d.status = status;
      d.marker.setStyle(driverStyle(status));
    }
  };

  const flush = () => {
    frame = 0;
    for (const m of pending.values()) {
      const ride = m.rideId ? rides.get(m.rideId) : null;
      // Seen through one ride only: a position that arrives after the ride ended has nothing to show.
      if (forgetDriversOfFinishedRides && (!ride || FINISHED.has(ride.status))) continue;
      placeDriver(m.driverId, m.lat, m.lng, m.rideId ? 'on_trip' : drivers.get(m.driverId)?.status === 'offline' ? 'offline' : 'available');
      if (ride?.path && ride.path.getLatLngs().length < MAX_PATH) ride.path.addLatLng([m.lat, m.lng]);
    }
    pending.clear();
  };

  // leaflet.heat redraws on every change and fails when it is off the map: touch it only while shown.
  const heatShown = () => map.hasLayer(layers.heat);
  const redrawHeat = () => heatShown() && layers.heat.setLatLngs(demand.map((p) => [p.lat, p.lng]));
  layers.heat.on('add', redrawHeat);

  const addDemand = (p, at = Date.now()) => {
    demand.push({ lat: p.lat, lng: p.lng, at });
    if (heatShown()) layers.heat.addLatLng([p.lat, p.lng]);
  };

  const drawRide = (ride) => {
    if (ride.markers.length || !isPoint(ride.pickup) || !isPoint(ride.dropoff)) return;
    ride.line = L.polyline([ride.pickup, ride.dropoff], { renderer, color: '#334155', weight: 1, dashArray: '3 6', opacity: 0.3, interactive: false });
    ride.path = L.polyline([], { renderer, color: COLORS.on_trip, weight: 3, opacity: 0.75, interactive: false });
    ride.markers = [
      L.circleMarker(ride.pickup, { renderer, radius: 4, color: COLORS.pickup, weight: 2, fillColor: '#fff', fillOpacity: 1 }).bindTooltip(`pickup ${ride.rideId}`),
      L.circleMarker(ride.dropoff, { renderer, radius: 4, color: COLORS.dropoff, weight: 2, fillColor: '#fff', fillOpacity: 1 }).bindTooltip(`dropoff ${ride.rideId}`),
    ];
    for (const layer of [ride.line, ride.path, ...ride.markers]) layers.rides.addLayer(layer);
  };

  const removeDriver = (driverId) => {
    const d = drivers.get(driverId);
    if (!d) return;
    layers.drivers.removeLayer(d.marker);
    drivers.delete(driverId);
  };

  const removeRide = (rideId) => {
    const ride = rides.get(rideId);
    if (!ride) return;
    for (const layer of [ride.line, ride.path, ...ride.markers]) if (layer) layers.rides.removeLayer(layer);
    rides.delete(rideId);
    if (forgetDriversOfFinishedRides && ride.driverId && ![...rides.values()].some((r) => r.driverId === ride.driverId)) removeDriver(ride.driverId);
  };

  const upsertRide = (r) => {
    let ride = rides.get(r.rideId);
    if (!ride) {
      ride = { rideId: r.rideId, status: r.status, driverId: null, pickup: null, dropoff: null, markers: [] };
      rides.set(r.rideId, ride);
    }
    ride.status = r.status ?? ride.status;
    if (r.driverId !== undefined) ride.driverId = r.driverId;
    if (isPoint(r.pickup)) ride.pickup = r.pickup;
    if (isPoint(r.dropoff)) ride.dropoff = r.dropoff;
    drawRide(ride);
    return ride;
  };

  // Drivers that went quiet have logged off or lost signal: stop showing them as available.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [driverId, d] of drivers) {
      if (now - d.heardAt > SILENT_DRIVER_MS) removeDriver(driverId);
    }
    const cutoff = now - DEMAND_WINDOW_MS;
    if (demand.length && demand[0].at < cutoff) {
      demand = demand.filter((p) => p.at >= cutoff);
      redrawHeat();
    }
  }, 10_000);

  return {
    layers,
    snapshot(message) {
      for (const rideId of [...rides.keys()]) removeRide(rideId);
      for (const d of message.drivers ?? []) if (isPoint(d)) placeDriver(d.driverId, d.lat, d.lng, d.status);
      for (const r of message.rides ?? []) {
        const ride = upsertRide(r);
        if (isPoint(ride.pickup) && demand.length < 5000) addDemand(ride.pickup);
      }
    },
    driverLocation(message) {
      if (!isPoint(message) || typeof message.driverId !== 'string') return;
      pending.set(message.driverId, message);
      if (!frame) frame = requestAnimationFrame(flush);
    },
    /** Applies a status; true when it is a new request (not one back to matching after a decline). */
    rideStatus(message) {
      if (typeof message.rideId !== 'string') return false;
      // A rating or payment after the end is news for the panel, not the map: do not draw the ride again.
      if (!rides.has(message.rideId) && FINISHED.has(message.status) && forgetDriversOfFinishedRides) return false;
      const ride = upsertRide(message);
      const fresh = message.status === 'requested' && !ride.counted;
      if (fresh) {
        ride.counted = true;
        if (isPoint(message.pickup)) addDemand(message.pickup);
      }
      if (ride.driverId) setDriverStatus(ride.driverId, FINISHED.has(ride.status) ? 'available' : 'on_trip');
      if (FINISHED.has(ride.status)) setTimeout(() => rides.get(ride.rideId)?.status === ride.status && removeRide(ride.rideId), 4000);
      else if (!isPoint(ride.pickup) && !ride.fetching) {
        // The message did not say where: ask once for the ride view, which does.
        ride.fetching = true;
        fetchRide(ride.rideId).then((view) => view && upsertRide({ rideId: view.rideId, pickup: view.pickup, dropoff: view.dropoff }));
      }
      return fresh;
    },
    /** Takes a ride off the map now (an offer passed up: it was never this page's ride). */
    forgetRide(rideId) {
      removeRide(rideId);
    },
    counts() {
      let available = 0;
      let onTrip = 0;
      let offline = 0;
      for (const d of drivers.values()) {
        if (d.status === 'available') available++;
        else if (d.status === 'on_trip') onTrip++;
        else if (d.status === 'offline') offline++;
      }
      return { available, onTrip, offline, rides: rides.size, demand: demand.length };
    },
    clear() {
      clearInterval(sweep);
      if (frame) cancelAnimationFrame(frame);
      for (const layer of Object.values(layers)) map.removeLayer(layer);
    },
  };
}
