// The logged-in user, kept in sessionStorage so a reload does not log out (a tab close does).
const KEY = 'ridecast.session';

/** Seconds since epoch at which a JWT stops being accepted, or null if it cannot be read. */
function expiryOf(token) {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = JSON.parse(json).exp;
    return typeof exp === 'number' ? exp : null;
  } catch {
    return null;
  }
}

export function isExpired(session) {
  return Date.now() / 1000 >= session.expiresAt - 5;
}

export function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    if (session && typeof session.token === 'string' && !isExpired(session)) return session;
  } catch {
    // A corrupt entry is the same as none.
  }
  sessionStorage.removeItem(KEY);
  return null;
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

/** POST /v1/auth/login; throws an Error whose message is fit to show the user. */
export async function login(username, password) {
  let response;
  try {
    response = await fetch('/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
  } catch {
    throw new Error('The server cannot be reached.');
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401) throw new Error('Wrong username or password.');
    if (response.status === 429) throw new Error('Too many attempts; wait a moment.');
    throw new Error(body.message ?? `Login failed (${response.status}).`);
  }
  const expiresAt = expiryOf(body.token) ?? Date.now() / 1000 + (body.expiresIn ?? 3600);
  const session = { token: body.token, userId: body.userId, role: body.role, username, expiresAt };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

/** GET with the session's token; resolves to null on any failure (the caller shows what it has). */
export async function getJson(session, path) {
  try {
    const response = await fetch(path, { headers: { authorization: `Bearer ${session.token}` } });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}
