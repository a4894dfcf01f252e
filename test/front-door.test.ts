import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type FrontDoor } from '../adapters/http/app.ts';
import { testClock } from './support/clock.ts';
import { startService } from './support/service.ts';
import { connect } from './support/ws.ts';

const ROOT = resolve(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|js|mjs)$/.test(name) ? [path] : [];
  });
}

/** Every module a file names: `import … from`, `export … from`, `import '…'` and `import('…')`. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) found.push(m[1]!);
  return found;
}

describe('one front door: the layers', () => {
  it('adapters/ and projections/ import nothing from src/ (the composition root)', () => {
    const src = join(ROOT, 'src');
    const offences: string[] = [];
    for (const layer of ['adapters', 'projections']) {
      for (const file of sourceFiles(join(ROOT, layer))) {
        for (const spec of specifiers(readFileSync(file, 'utf8'))) {
          if (!spec.startsWith('.')) continue;
          const target = resolve(dirname(file), spec);
          if (target === src || target.startsWith(src + '/')) offences.push(`${relative(ROOT, file)} imports ${spec}`);
        }
      }
    }
    expect(offences).toEqual([]);
  });

  it('domain/ imports nothing outside domain/: no src/, no adapters, no npm package, no Node module', () => {
    const domain = join(ROOT, 'domain');
    const offences: string[] = [];
    for (const file of sourceFiles(domain)) {
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        const target = spec.startsWith('.') ? resolve(dirname(file), spec) : null;
        if (target === null || !target.startsWith(domain + '/')) offences.push(`${relative(ROOT, file)} imports ${spec}`);
      }
    }
    expect(offences).toEqual([]);
  });

  it('the check sees an import from src/ when there is one', () => {
    expect(specifiers(`import type { Ridecast } from '../../src/app/ridecast.ts';\nexport { x } from "./y.ts";\nawait import('../z.ts');`)).toEqual([
      '../../src/app/ridecast.ts',
      './y.ts',
      '../z.ts',
    ]);
  });
});

describe('one front door: services given at registration', () => {
  let service: Awaited<ReturnType<typeof startService>>;
  const clock = testClock();
  beforeAll(async () => {
    service = await startService({}, { clock });
    await service.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => service?.close());

  const build = (services: Partial<FrontDoor>) =>
    buildApp({ services: services as FrontDoor, clock, registry: new Registry(), jwtSecret: 'test-secret-that-is-long-enough', readiness: {} });

  it('builds with every service, and refuses at start-up a route group whose service is missing, naming it', async () => {
    const app = await build(service.services);
    await app.close();
    await expect(build({ ...service.services, rideQueries: undefined })).rejects.toThrow('ride routes: missing service option rideQueries');
    await expect(build({ ...service.services, driverQueries: undefined })).rejects.toThrow('driver routes: missing service option driverQueries');
    await expect(build({ ...service.services, live: undefined, fleet: undefined })).rejects.toThrow('stream route: missing service options live, fleet');
    await expect(build({ ...service.services, accounts: undefined })).rejects.toThrow('auth routes: missing service option accounts');
  });

  it("closes a socket when its token has run out on the service's clock, not the wall clock", async () => {
    const rider = await service.accounts.create(`clock-${Math.random().toString(36).slice(2, 8)}`, 'password-123', 'rider');
    const token = service.app.jwt.sign({ sub: rider.userId, role: 'rider' }, { expiresIn: 3600 });
    clock.advance(2 * 3600_000);
    try {
      const socket = await connect(service.app, token);
      expect(await socket.closed).toEqual({ code: 4401, reason: 'token expired' });
    } finally {
      clock.release();
    }
  });
});
