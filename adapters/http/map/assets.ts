import { createHash } from 'node:crypto';
import { buildSync } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
  /** Vendor files never change for a given install; our own are revalidated on every load. */
  readonly cacheControl: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

const publicDir = join(dirname(fileURLToPath(import.meta.url)), 'public');
const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

function asset(file: string, cacheControl: string, body: Buffer = readFileSync(file)): Asset {
  const contentType = TYPES[extname(file)];
  if (!contentType) throw new Error(`map: no content type for ${file}`);
  return { body, contentType, cacheControl, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
}

let clientBundle: Buffer | null = null;
/**
 * The typed client (`ridecast/client`, the package's own export) compiled for the browser, once per
 * process: the page uses the same SDK as Node apps, with no bundler step and nothing from a CDN.
 * `platform: 'browser'` makes the build fail if the SDK ever imports a Node module.
 */
export function browserClient(): Buffer {
  clientBundle ??= Buffer.from(
    buildSync({
      entryPoints: [require.resolve('ridecast/client')],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      legalComments: 'none',
      logLevel: 'silent',
    }).outputFiles[0]!.contents,
  );
  return clientBundle;
}

/**
 * Every file the page may ask for, read once at start-up. A fixed table rather than a
 * directory mount: nothing outside it can be served, and Leaflet comes from node_modules
 * so the page works with no internet.
 */
export function loadMapAssets(): { page: Asset; files: ReadonlyMap<string, Asset> } {
  const files = new Map<string, Asset>();
  for (const name of readdirSync(publicDir)) {
    if (name !== 'index.html' && TYPES[extname(name)]) files.set(name, asset(join(publicDir, name), 'no-cache'));
  }
  const vendor = 'public, max-age=86400';
  const leaflet = join(packageDir('leaflet'), 'dist');
  for (const name of ['leaflet.js', 'leaflet.css']) files.set(`vendor/leaflet/${name}`, asset(join(leaflet, name), vendor));
  for (const name of readdirSync(join(leaflet, 'images'))) {
    files.set(`vendor/leaflet/images/${name}`, asset(join(leaflet, 'images', name), vendor));
  }
  files.set('ridecast-client.js', asset('ridecast-client.js', 'no-cache', browserClient()));
  files.set('vendor/leaflet.heat/leaflet-heat.js', asset(join(packageDir('leaflet.heat'), 'dist', 'leaflet-heat.js'), vendor));
  return { page: asset(join(publicDir, 'index.html'), 'no-cache'), files };
}
