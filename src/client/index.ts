/**
 * Ridecast's typed client (`ridecast/client`): login and token renewal, one method per HTTP route,
 * and a live stream that resumes where it left off. Runs in browsers and in Node 20; in Node, pass
 * a WebSocket implementation: `createRidecastClient({ baseUrl, WebSocket })` with `ws`'s.
 */
export { createRidecastClient, ROUTES, type ClientOptions, type RidecastClient, type SessionChange } from './client.ts';
export { ApiError, createHttp, type Http, type HttpOptions, type OutcomeListener, type RequestOptions } from './http.ts';
export { readClaims, sessionOfToken, type Session } from './session.ts';
export {
  createLiveStream,
  streamUrl,
  type LiveStream,
  type LiveStreamOptions,
  type ReplayGap,
  type StreamState,
  type WebSocketConstructor,
  type WebSocketLike,
} from './stream.ts';
export * from './types.ts';
