import type { TSchema } from '@sinclair/typebox';
import { clientMessages, serverMessages } from './asyncapi-messages.ts';
import { API_VERSION } from './schemas.ts';

/** TypeBox schemas as plain JSON (its symbol keys dropped). */
const plain = (schema: TSchema): object => JSON.parse(JSON.stringify(schema)) as object;
const title = (name: string) => name.replace(/(^|[.-])([a-z])/g, (_m, _s: string, c: string) => c.toUpperCase());

function messagesOf(table: typeof serverMessages) {
  return Object.fromEntries(
    Object.entries(table).map(([name, m]) => [
      name,
      { name, title: name, summary: m.summary, contentType: 'application/json', payload: plain(m.payload), examples: [{ name: `${name} example`, payload: m.example }] },
    ]),
  );
}

const ref = (path: string) => ({ $ref: path });

/**
 * `GET /v1/stream` as an AsyncAPI 3 document, served at `GET /asyncapi.json` and kept in
 * docs/asyncapi.json (a test fails when the two differ; `UPDATE_DOCS=1` rewrites the file).
 * It describes the server: `receive` operations are what clients send, `send` what the server
 * pushes. Client messages reuse the very schemas the stream validates with; the server's are
 * checked against every message a whole ride really produces (test/asyncapi.test.ts).
 */
export const asyncApiDocument = {
  asyncapi: '3.0.0',
  info: {
    title: 'Ridecast live stream',
    version: API_VERSION,
    description: [
      'One WebSocket per client at `/v1/stream`: riders and operators watch rides, drivers receive offers and may send GPS points.',
      'Authenticate with `Authorization: Bearer <token>` or `?access_token=<token>` (browsers). Every message is one JSON object with a `type`.',
      'Messages that stem from an event carry its `eventId`; reconnect and send `subscribe` with `after` set to the last one seen to miss nothing.',
      'This document describes the server: `receive` operations are what a client sends, `send` what the server pushes.',
    ].join('\n\n'),
  },
  defaultContentType: 'application/json',
  servers: {
    local: {
      host: '127.0.0.1:3000',
      protocol: 'ws',
      description: 'A local Ridecast (`npm start`); use wss with TLS_CERT/TLS_KEY.',
      security: [ref('#/components/securitySchemes/bearer'), ref('#/components/securitySchemes/accessToken')],
    },
  },
  channels: {
    stream: {
      address: '/v1/stream',
      title: 'The live stream',
      messages: Object.fromEntries(
        [...Object.keys(clientMessages), ...Object.keys(serverMessages)].map((name) => [name, ref(`#/components/messages/${name}`)]),
      ),
      bindings: {
        ws: {
          method: 'GET',
          query: { type: 'object', properties: { access_token: { type: 'string', maxLength: 4096, description: 'The token, for browsers that cannot set headers.' } } },
        },
      },
    },
  },
  operations: Object.fromEntries([
    ...Object.keys(clientMessages).map((name) => [
      `receive${title(name)}`,
      { action: 'receive', channel: ref('#/channels/stream'), summary: clientMessages[name]!.summary, messages: [ref(`#/channels/stream/messages/${name}`)] },
    ]),
    ...Object.keys(serverMessages).map((name) => [
      `send${title(name)}`,
      { action: 'send', channel: ref('#/channels/stream'), summary: serverMessages[name]!.summary, messages: [ref(`#/channels/stream/messages/${name}`)] },
    ]),
  ]),
  components: {
    messages: { ...messagesOf(clientMessages), ...messagesOf(serverMessages) },
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token from POST /v1/auth/login (or a share token from POST /v1/rides/{rideId}/share).' },
      accessToken: { type: 'httpApiKey', in: 'query', name: 'access_token', description: 'The same token as a query parameter.' },
    },
  },
} as const;

/** The message types the server sends (the `type` field), for tests and clients. */
export const SERVER_MESSAGE_TYPES = Object.keys(serverMessages);
/** The message types clients may send, as documented (a test compares them with what the stream accepts). */
export const CLIENT_MESSAGE_TYPES = Object.keys(clientMessages);
