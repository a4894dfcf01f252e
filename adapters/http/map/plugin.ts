import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { errorBody } from '../errors.ts';
import { ErrorBody } from '../schemas.ts';
import { loadMapAssets, type Asset } from './assets.ts';

const StreetFeatureCollection = Type.Object({
  type: Type.Literal('FeatureCollection'),
  features: Type.Array(
    Type.Object({
      type: Type.Literal('Feature'),
      properties: Type.Object({ name: Type.String(), kind: Type.String() }),
      geometry: Type.Object({
        type: Type.Literal('LineString'),
        coordinates: Type.Array(Type.Array(Type.Number(), { minItems: 2, maxItems: 3 }), { minItems: 2 }),
      }),
    }),
  ),
});
const checkStreets = TypeCompiler.Compile(StreetFeatureCollection);

const MapConfig = Type.Object({
  tileUrl: Type.Union([Type.String(), Type.Null()]),
  tileAttribution: Type.Union([Type.String(), Type.Null()]),
});

export interface MapPluginOptions {
  /** What `GET /v1/map/streets` answers and the page draws (see `streetsToGeoJson`). */
  readonly streets: Static<typeof StreetFeatureCollection>;
  /** A `{z}/{x}/{y}` raster tile template for real deployments; without it the page draws streets on a plain background. */
  readonly tileUrl?: string;
  readonly tileAttribution?: string;
}

const send = (request: FastifyRequest, reply: FastifyReply, asset: Asset) => {
  reply.header('cache-control', asset.cacheControl).header('etag', asset.etag);
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.type(asset.contentType).send(asset.body);
};

/**
 * The live map: `GET /` (the page), `GET /map/*` (its scripts, styles and a local Leaflet),
 * `GET /v1/map/streets` and `GET /v1/map/config`. Everything is served from this process;
 * the page needs no CDN and no tile server.
 */
export const mapPlugin = fp(
  async (app: FastifyInstance, options: MapPluginOptions) => {
    if (!options || !checkStreets.Check(options.streets)) {
      const first = options ? checkStreets.Errors(options.streets).First() : undefined;
      throw new Error(`map: options.streets must be a GeoJSON FeatureCollection of LineStrings${first ? ` (${first.path || '/'} ${first.message})` : ''}`);
    }
    let tileOrigin: string | null = null;
    if (options.tileUrl !== undefined) {
      try {
        tileOrigin = new URL(options.tileUrl.replace(/\{[a-z]\}/g, '0')).origin;
      } catch {
        throw new Error(`map: options.tileUrl must be an http(s) URL template, got "${options.tileUrl}"`);
      }
      if (!/^https?:/.test(tileOrigin) || !/\{z\}/.test(options.tileUrl)) throw new Error(`map: options.tileUrl must be an http(s) URL with {z}/{x}/{y}, got "${options.tileUrl}"`);
    }
    const { page, files } = loadMapAssets();
    // Serialised once: the network does not change while the process runs.
    const streetsJson = JSON.stringify(options.streets);
    const config = { tileUrl: options.tileUrl ?? null, tileAttribution: options.tileAttribution ?? null };
    const csp = [
      "default-src 'self'",
      "script-src 'self'",
      // Leaflet positions its panes with inline styles.
      "style-src 'self' 'unsafe-inline'",
      `img-src 'self' data:${tileOrigin ? ` ${tileOrigin}` : ''}`,
      "connect-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ].join('; ');

    app.get('/', { schema: { hide: true, response: { 200: Type.String(), 304: Type.Null() } } }, (request, reply) => {
      reply.header('content-security-policy', csp).header('x-content-type-options', 'nosniff');
      return send(request, reply, page);
    });

    app.get(
      '/map/*',
      {
        schema: {
          hide: true,
          params: Type.Object({ '*': Type.String({ maxLength: 200 }) }),
          response: { 200: Type.String(), 304: Type.Null(), 404: ErrorBody },
        },
      },
      (request, reply) => {
        const name = (request.params as { '*': string })['*'];
        const asset = files.get(name);
        if (!asset) return reply.code(404).send(errorBody(404, 'NOT_FOUND', `no map asset ${name}`));
        reply.header('x-content-type-options', 'nosniff');
        return send(request, reply, asset);
      },
    );

    app.get('/v1/map/streets', { schema: { response: { 200: StreetFeatureCollection } } }, (_request, reply) =>
      reply.header('cache-control', 'public, max-age=300').type('application/json; charset=utf-8').send(streetsJson),
    );

    app.get('/v1/map/config', { schema: { response: { 200: MapConfig } } }, () => config);
  },
  { name: 'ridecast-map', fastify: '5.x' },
);

export default mapPlugin;
