import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getInMemoryEventLog } from '../adapters/memory/event-log.ts';
import { client, startService } from './support/service.ts';
import { waitFor } from './support/wait.ts';
import { connect, type LiveClient } from './support/ws.ts';

// A full collection on demand, without starting vitest with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let service: Awaited<ReturnType<typeof startService>>;
const upgrades: WeakRef<object>[] = [];
const sockets: LiveClient[] = [];

beforeAll(async () => {
  service = await startService({ log: getInMemoryEventLog() });
  // Every upgrade request the stream route sees, held weakly: the test asks whether anything else holds it.
  service.app.addHook('onRequest', async (request) => {
    if (request.url.startsWith('/v1/stream')) upgrades.push(new WeakRef(request.raw), new WeakRef(request));
  });
  await service.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await service.close();
});

it('an open socket does not keep its upgrade request alive (a rider socket costs what the socket needs, not the HTTP request that opened it)', async () => {
  const api = client(service.app);
  const rider = await api.user('rider');
  for (let i = 0; i < 3; i++) sockets.push(await connect(service.app, rider.token));
  // The socket works: it answers, so it is open and its handler ran.
  await sockets[0]!.request({ type: 'ping' }, 'pong');
  expect(upgrades.length).toBe(6);
  await waitFor(async () => {
    gc();
    await new Promise((r) => setImmediate(r));
    return upgrades.every((ref) => ref.deref() === undefined);
  }, 'the upgrade requests (fastify Request and IncomingMessage) to be collected while the sockets stay open');
});

it('a socket that breaks the protocol is closed, and the others carry on', async () => {
  const api = client(service.app);
  const rider = await api.user('rider');
  const [bad, good] = [await connect(service.app, rider.token), await connect(service.app, rider.token)];
  sockets.push(bad, good);
  // A masked frame with a reserved opcode (3): the server's ws parser fails on it ('error', then close).
  (bad.ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0]));
  const { code } = await bad.closed;
  expect([1002, 1006]).toContain(code);
  expect((await good.request({ type: 'ping' }, 'pong')).type).toBe('pong');
});
