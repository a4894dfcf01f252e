import { WebSocket } from 'ws';
import type { LatLng } from '../../domain/geo.ts';
import { createRidecastClient, type LiveStream, type ReplayGap, type RidecastClient, type StreamMessage, type StreamState, type WebSocketConstructor } from '../../src/client/index.ts';
import { ADMIN } from './service.ts';
import { waitFor } from './wait.ts';

/** The SDK as a Node 20 app uses it: `ws` passed in as the WebSocket class. */
export const sdk = (baseUrl: string) => createRidecastClient({ baseUrl, WebSocket: WebSocket as unknown as WebSocketConstructor });

let users = 0;
/** A new user of `role`, created by the admin, logged in on a client of its own. */
export async function sdkUser(baseUrl: string, role: 'rider' | 'driver' | 'admin') {
  const admin = sdk(baseUrl);
  await admin.login(ADMIN.username, ADMIN.password);
  const username = `sdk-${role}-${process.pid}-${++users}-${Math.random().toString(36).slice(2, 6)}`;
  await admin.users.create({ username, password: 'password-123', role });
  admin.logout();
  const client = sdk(baseUrl);
  await client.login(username, 'password-123', { remember: true });
  return Object.assign(client, { username });
}

/** A stream that records everything it delivers, for tests to wait on. */
export function recordedStream(client: RidecastClient, backoff = { initialMs: 50, maxMs: 500 }) {
  const messages: StreamMessage[] = [];
  const gaps: ReplayGap[] = [];
  const errors: StreamMessage[] = [];
  const states: StreamState[] = [];
  const stream: LiveStream = client.stream({
    backoff,
    onMessage: (m) => messages.push(m),
    onGap: (g) => gaps.push(g),
    onError: (e) => errors.push(e),
    onState: (s) => states.push(s),
  });
  type Of<K extends StreamMessage['type']> = Extract<StreamMessage, { type: K }>;
  return {
    stream,
    messages,
    gaps,
    errors,
    states,
    of: <K extends StreamMessage['type']>(type: K) => messages.filter((m): m is Of<K> => m.type === type),
    next<K extends StreamMessage['type']>(type: K, match: (m: Of<K>) => boolean = () => true, timeoutMs = 15_000): Promise<Of<K>> {
      return waitFor(() => messages.find((m): m is Of<K> => m.type === type && match(m as Of<K>)), `a ${type} message`, timeoutMs);
    },
    live: () => waitFor(() => stream.state === 'live', 'the stream to be live'),
  };
}

/** A phone's GPS: its own clock, starting minutes ago and moving 10 s per fix (as the tracking rules expect). */
export function device() {
  let clock = Date.now() - 8 * 60_000;
  return (p: LatLng) => ({ ...p, recordedAt: (clock += 10_000) });
}

export const north = (p: LatLng, meters: number) => ({ lat: p.lat + meters / 111_195, lng: p.lng });
export const between = (a: LatLng, b: LatLng, f: number) => ({ lat: a.lat + (b.lat - a.lat) * f, lng: a.lng + (b.lng - a.lng) * f });
