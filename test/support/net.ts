import { createServer } from 'node:net';

// Test servers listen below Linux's ephemeral range (32768–60999 by default), where the kernel
// never hands out a port to an outgoing connection: a redis-server killed and restarted on "its"
// port always gets it back, and a port picked here is not taken meanwhile by some client socket.
// Suites run in parallel workers, so the pick is random and each pick is proven by binding it.
const LOW = 20_000;
const HIGH = 32_000;

function tryBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Returns a TCP port on 127.0.0.1, outside the ephemeral range, that was free a moment ago. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await tryBind(port)) return port;
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} after 200 tries`);
}
