// `npm start`: the compiled service (dist/src/main.js) under plain node, building first when dist/
// is missing or older than the sources, so a fresh clone needs only `npm ci && npm start`.
// The server runs in this very process (imported, not spawned): SIGTERM from npm, a terminal or
// a container reaches its own graceful-shutdown handler.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, ROOT, staleReason } from './build.mjs';

const dist = join(ROOT, 'dist');
const reason = staleReason(dist);
if (reason) {
  console.log(`ridecast: building first (${reason}) …`);
  try {
    build(dist);
  } catch (err) {
    console.error(`ridecast: build failed: ${err.message}`);
    process.exit(1);
  }
}
await import(pathToFileURL(join(dist, 'src', 'main.js')).href);
