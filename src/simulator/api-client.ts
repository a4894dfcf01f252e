import { WebSocket } from 'ws';
import { createHttp, createRidecastClient, type Http, type OutcomeListener, type RidecastClient, type Role, type WebSocketConstructor } from '../client/index.ts';

// The simulator speaks to the server only through the public SDK, as any other app would.
export { ApiError, FINISHED, type LocationPoint, type RideView, type Role } from '../client/index.ts';

/** A logged-in simulated user: the SDK client, which logs in again by itself when its token is refused. */
export type UserSession = RidecastClient & { readonly username: string };

/** One transport for the whole fleet, so every call is counted and bounded in one place. */
export function createFleetHttp(baseUrl: string, onOutcome: OutcomeListener): Http {
  return createHttp({ baseUrl, onOutcome });
}

const clientOn = (http: Http) => createRidecastClient({ http, WebSocket: WebSocket as unknown as WebSocketConstructor });

export async function openSession(http: Http, username: string, password: string): Promise<UserSession> {
  const client = clientOn(http);
  await client.login(username, password, { remember: true });
  return Object.assign(client, { username });
}

/** A session for a token given on the command line (it is renewed while it is valid). */
export function sessionOfToken(http: Http, token: string): UserSession {
  const client = clientOn(http);
  client.useToken(token);
  return Object.assign(client, { username: client.session?.userId ?? '' });
}

/** Creates a user as the admin; 409 (taken) is left to the caller. */
export function createUser(admin: RidecastClient, username: string, password: string, role: Role) {
  return admin.users.create({ username, password, role });
}
