import Fastify from 'fastify';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { mapPlugin } from '../adapters/http/map/plugin.ts';
import { streetsToGeoJson } from '../src/simulator/streets-geojson.ts';
import { generateStreets } from '../src/simulator/streets.ts';

const streets = streetsToGeoJson(generateStreets({ widthMeters: 1000, heightMeters: 1000 }));

async function appWith(options: Parameters<typeof mapPlugin>[1]) {
  const app = Fastify();
  await app.register(mapPlugin, options);
  await app.ready();
  return app;
}

describe('live map plugin', async () => {
  const app = await appWith({ streets });
  afterAll(() => app.close());

  it('serves the page at / with a policy that allows nothing from other hosts', async () => {
    const res = await app.inject({ url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('<div id="map"');
    expect(res.body).not.toMatch(/https?:\/\//);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("connect-src 'self'");
  });

  it('serves Leaflet from node_modules, byte for byte, and the page’s own scripts', async () => {
    const leaflet = readFileSync(createRequire(import.meta.url).resolve('leaflet/dist/leaflet.js'));
    const res = await app.inject({ url: '/map/vendor/leaflet/leaflet.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.rawPayload.equals(leaflet)).toBe(true);
    for (const url of ['/map/app.js', '/map/map.css', '/map/vendor/leaflet/leaflet.css', '/map/vendor/leaflet.heat/leaflet-heat.js', '/map/vendor/leaflet/images/layers.png']) {
      expect((await app.inject({ url })).statusCode, url).toBe(200);
    }
  });

  it('answers 304 to a client that already has the file', async () => {
    const first = await app.inject({ url: '/map/app.js' });
    const again = await app.inject({ url: '/map/app.js', headers: { 'if-none-match': String(first.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it('serves nothing outside its table', async () => {
    for (const url of ['/map/nope.js', '/map/index.html', '/map/vendor/leaflet/leaflet-src.js', '/map/..%2fplugin.ts']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toEqual({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: expect.stringMatching(/^no map asset /) });
    }
    // A dot-dot path is resolved before routing: it never reaches the map's handler at all.
    const escape = await app.inject({ url: '/map/%2e%2e/plugin.ts' });
    expect(escape.statusCode).toBe(404);
    expect(escape.body).not.toContain('fastify-plugin');
  });

  it('serves the street network it was given, and no tile server by default', async () => {
    const res = await app.inject({ url: '/v1/map/streets' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual(streets);
    expect((await app.inject({ url: '/v1/map/config' })).json()).toEqual({ tileUrl: null, tileAttribution: null });
  });

  it('with a tile server configured, then the page may load its images and is told where it is', async () => {
    const tiled = await appWith({ streets, tileUrl: 'https://tiles.example.org/{z}/{x}/{y}.png', tileAttribution: '© Example' });
    expect(String((await tiled.inject({ url: '/' })).headers['content-security-policy'])).toContain("img-src 'self' data: https://tiles.example.org");
    expect((await tiled.inject({ url: '/v1/map/config' })).json()).toEqual({ tileUrl: 'https://tiles.example.org/{z}/{x}/{y}.png', tileAttribution: '© Example' });
    await tiled.close();
  });

  it('refuses bad options at registration, naming them', async () => {
    await expect(appWith({ streets: { type: 'FeatureCollection', features: [{}] } as never })).rejects.toThrow(/options\.streets/);
    await expect(appWith({ streets, tileUrl: 'not a url' })).rejects.toThrow(/options\.tileUrl/);
    await expect(appWith({ streets, tileUrl: 'ftp://x.org/{z}/{x}/{y}' })).rejects.toThrow(/options\.tileUrl/);
  });
});
