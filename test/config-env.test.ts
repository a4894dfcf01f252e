import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Production code: what the service and its CLIs run. Tests, benches and scripts may read the environment. */
const PRODUCTION = ['src', 'adapters', 'domain', 'projections'];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return sources(path);
    return /\.(ts|js|mjs)$/.test(d.name) ? [path] : [];
  });
}

describe('one configuration', () => {
  it('reads the environment in src/config.ts only: every other production file gets its settings from loadConfig', () => {
    const readers = PRODUCTION.flatMap(sources)
      .filter((path) => /\bprocess\s*(\.\s*env\b|\[\s*['"`]env)/.test(readFileSync(join(ROOT, path), 'utf8')))
      .map((path) => relative(ROOT, join(ROOT, path)));
    expect(readers).toEqual(['src/config.ts']);
  });
});
