// The logged-in user, through the typed client (`ridecast/client`, served as /map/ridecast-client.js).
// The session is kept in sessionStorage so a reload does not log out (a tab close does); the client
// renews the token before it expires and the renewed one is kept too.
import { ApiError, createRidecastClient } from './ridecast-client.js';

const KEY = 'ridecast.session';

export const client = createRidecastClient();

client.onSession((session, why) => {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else if (why !== 'expired') sessionStorage.removeItem(KEY);
});

/** The session kept from before a reload, if it is still good for a while. */
export function restoreSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    if (saved && typeof saved.token === 'string' && saved.expiresAt > Date.now() + 5_000) return client.restore(saved);
  } catch {
    // A corrupt entry is the same as none.
  }
  sessionStorage.removeItem(KEY);
  return null;
}

export function clearSession() {
  client.logout();
  sessionStorage.removeItem(KEY);
}

/** Logs in; throws an Error whose message is fit to show the user. */
export async function login(username, password) {
  try {
    return await client.login(username, password);
  } catch (err) {
    if (!(err instanceof ApiError)) throw new Error('Login failed.');
    if (err.status === 0) throw new Error('The server cannot be reached.');
    if (err.status === 401) throw new Error('Wrong username or password.');
    if (err.status === 429) throw new Error('Too many attempts; wait a moment.');
    throw new Error(err.message || `Login failed (${err.status}).`);
  }
}

/** A user-facing sentence for a failed call. */
export const explain = (err) => (err instanceof ApiError ? err.message.replace(/^.*?: /, '') : 'Something went wrong.');
