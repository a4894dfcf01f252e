import { Ajv } from 'ajv';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startService } from './support/service.ts';

/**
 * `GET /openapi.json`: generated from the route schemas, so it covers every route; the bearer
 * scheme on every route that checks a token; error answers described with examples that fit.
 */
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let service: Awaited<ReturnType<typeof startService>>;
let doc: Json;
beforeAll(async () => {
  service = await startService();
  doc = (await client(service.app).get('/openapi.json')).body;
});
afterAll(() => service?.close());

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const operations = () =>
  Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method] as Json })),
  );

describe('GET /openapi.json', () => {
  it('is OpenAPI 3.1 and lists every route of the contract', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'Ridecast API', version: expect.any(String) });
    const listed = operations().map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    expect(listed.sort()).toEqual(
      [
        'POST /v1/auth/login', 'POST /v1/auth/refresh', 'POST /v1/users',
        'POST /v1/rides', 'GET /v1/rides/{rideId}', 'POST /v1/rides/{rideId}/cancel', 'POST /v1/rides/{rideId}/rating',
        'POST /v1/rides/{rideId}/accept', 'POST /v1/rides/{rideId}/decline', 'POST /v1/rides/{rideId}/arrive',
        'POST /v1/rides/{rideId}/start', 'POST /v1/rides/{rideId}/complete', 'GET /v1/rides/{rideId}/location',
        'GET /v1/rides/{rideId}/track', 'POST /v1/rides/{rideId}/share',
        'PUT /v1/drivers/me/availability', 'POST /v1/drivers/me/locations', 'GET /v1/drivers/nearby',
        'GET /v1/stream', 'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json', 'GET /asyncapi.json',
      ].sort(),
    );
    const ids = operations().map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { method, path, op } of operations()) {
      expect(op.summary, `${method} ${path} summary`).toEqual(expect.any(String));
      expect(Object.keys(op.responses).some((s) => /^[12]\d\d$/.test(s)), `${method} ${path} success answer`).toBe(true);
    }
  });

  it('names the bearer scheme on every route that checks a token, and on no public one', () => {
    expect(doc.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }));
    const publicRoutes = new Set(['POST /v1/auth/login', 'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json', 'GET /asyncapi.json']);
    for (const { method, path, op } of operations()) {
      const key = `${method.toUpperCase()} ${path}`;
      if (publicRoutes.has(key)) expect(op.security, key).toBeUndefined();
      else {
        expect(op.security, key).toContainEqual({ bearer: [] });
        expect(op.responses[401], key).toBeDefined();
      }
    }
  });

  it('describes error answers with the error shape, a description and an example', () => {
    const request = doc.paths['/v1/rides'].post;
    expect(Object.keys(request.responses).sort()).toEqual(['202', '400', '401', '403', '409', '422', '429', '503']);
    const bad = request.responses['400'];
    expect(bad.description).toMatch(/names the field/);
    const schema = bad.content['application/json'].schema;
    expect(schema.required).toEqual(['statusCode', 'code', 'error', 'message']);
    expect(bad.content['application/json'].example).toMatchObject({ statusCode: 400, code: 'VALIDATION_ERROR' });
    expect(request.requestBody.content['application/json'].example).toHaveProperty('pickup');
  });

  it('holds examples that fit their own schemas, everywhere', () => {
    const ajv = new Ajv({ strict: false, allErrors: true, formats: { 'date-time': true } });
    let checked = 0;
    const walk = (node: unknown, where: string): void => {
      if (!node || typeof node !== 'object') return;
      const schema = node as Json;
      if (Array.isArray(schema.examples) && (schema.type || schema.anyOf || schema.properties)) {
        const validate = ajv.compile(schema);
        for (const example of schema.examples) {
          expect(validate(example), `${where}: ${JSON.stringify(validate.errors)}`).toBe(true);
          checked++;
        }
      }
      // A media type's `example` beside its `schema` (how responses carry theirs).
      if (schema.schema && typeof schema.schema === 'object' && 'example' in schema) {
        const validate = ajv.compile(schema.schema as object);
        expect(validate(schema.example), `${where}: ${JSON.stringify(validate.errors)}`).toBe(true);
        checked++;
      }
      for (const [key, child] of Object.entries(schema)) walk(child, `${where}/${key}`);
    };
    walk(doc.paths, '#/paths');
    expect(checked).toBeGreaterThan(20);
  });

  it('refuses at start-up a route that declares no response schema', async () => {
    const bare = async (app: FastifyInstance) => {
      app.get('/v1/undocumented', async () => ({ ok: true }));
    };
    await expect(startService({}, { plugins: [bare] })).rejects.toThrow(/GET \/v1\/undocumented declares no response schema/);
    const documented = async (app: FastifyInstance) => {
      app.get('/v1/documented', { schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }));
    };
    const other = await startService({}, { plugins: [documented] });
    await other.close();
  });
});
