// One WebSocket on /v1/stream that comes back by itself. On every (re)connection it asks
// again for what it was following; for a ride it passes `after` = the last eventId seen, so
// the server replays what was missed and nothing is lost or shown twice.

const RECENT_IDS = 5000;

export function createLiveSocket({ token, onMessage, onState, onUnauthorized }) {
  const rides = new Map(); // rideId → last eventId seen (or undefined)
  let fleet = false;
  let socket = null;
  let closed = false;
  let attempt = 0;
  let failuresBeforeOpen = 0;
  let retryTimer = null;
  let pingTimer = null;
  const seen = new Set();

  const url = () => {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/v1/stream?access_token=${encodeURIComponent(token)}`;
  };
  const send = (message) => {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  };
  const subscribeRide = (rideId) => {
    const after = rides.get(rideId);
    send(after ? { type: 'subscribe', rideId, after } : { type: 'subscribe', rideId });
  };

  const remember = (message) => {
    if (typeof message.eventId !== 'string' && typeof message.eventId !== 'number') return true;
    const key = `${message.type}|${message.eventId}`;
    if (seen.has(key)) return false;
    seen.add(key);
    // Sets iterate in insertion order: dropping the first entries forgets the oldest.
    if (seen.size > RECENT_IDS) for (const old of seen) { seen.delete(old); if (seen.size <= RECENT_IDS * 0.9) break; }
    if (typeof message.rideId === 'string' && rides.has(message.rideId)) rides.set(message.rideId, String(message.eventId));
    return true;
  };

  const connect = () => {
    if (closed) return;
    onState(attempt === 0 ? 'connecting' : 'reconnecting');
    let opened = false;
    const ws = new WebSocket(url());
    socket = ws;
    ws.addEventListener('open', () => {
      opened = true;
      attempt = 0;
      failuresBeforeOpen = 0;
      onState('live');
      if (fleet) send({ type: 'subscribe', fleet: true });
      for (const rideId of rides.keys()) subscribeRide(rideId);
      pingTimer = setInterval(() => send({ type: 'ping' }), 25_000);
    });
    ws.addEventListener('message', (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message && typeof message.type === 'string' && remember(message)) onMessage(message);
    });
    ws.addEventListener('close', () => {
      clearInterval(pingTimer);
      socket = null;
      if (closed) return;
      // An upgrade refused outright, again and again, is most likely an expired or revoked token.
      if (!opened && ++failuresBeforeOpen >= 3 && onUnauthorized()) return;
      const delay = Math.min(10_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt = Math.min(attempt + 1, 6);
      onState('reconnecting');
      retryTimer = setTimeout(connect, delay);
    });
  };

  connect();
  return {
    followFleet() {
      fleet = true;
      send({ type: 'subscribe', fleet: true });
    },
    followRide(rideId) {
      if (!rides.has(rideId)) rides.set(rideId, undefined);
      subscribeRide(rideId);
    },
    unfollowRide(rideId) {
      rides.delete(rideId);
      send({ type: 'unsubscribe', rideId });
    },
    close() {
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(pingTimer);
      socket?.close(1000, 'bye');
      onState('offline');
    },
  };
}
