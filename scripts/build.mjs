// `npm run build`: compile the service to plain JavaScript for node (no tsx at run time).
//   node scripts/build.mjs [--out <dir>]     (default dist/)
// tsc (tsconfig.build.json) rewrites the sources' `.ts` imports to `.js`; then every file the
// code reads at run time (the map's page, scripts and styles: anything under the source folders
// that is not TypeScript) is copied beside the compiled code, so paths relative to
// `import.meta.url` resolve the same from dist/ as from the sources. A stamp file marks a
// complete build: `npm start` rebuilds when it is missing or older than any source.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The folders compiled into dist/ (tsconfig.build.json's `include`, minus type declarations). */
export const SOURCE_DIRS = ['src', 'domain', 'adapters', 'projections'];
/** Besides the sources, what changes the build's output. */
export const BUILD_INPUTS = ['types', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];
export const STAMP = '.build-stamp';

/** Every file under `dir`, recursively (absolute paths). */
export function filesUnder(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

export function build(outDir = join(ROOT, 'dist')) {
  rmSync(outDir, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', outDir], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`tsc failed (exit ${result.status ?? result.signal})`);
  let assets = 0;
  for (const dir of SOURCE_DIRS) {
    for (const file of filesUnder(join(ROOT, dir))) {
      if (file.endsWith('.ts')) continue;
      const target = join(outDir, relative(ROOT, file));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(file, target);
      assets++;
    }
  }
  // No package.json of its own in dist/: the root one (ES modules, and the `ridecast/client` export
  // the map resolves by the package's own name) must stay the nearest for the compiled code too.
  writeFileSync(join(outDir, STAMP), `${new Date().toISOString()}\n`);
  return { outDir, assets };
}

/** Why dist/ must be rebuilt (missing, or some input newer than its stamp), or null when it is current. */
export function staleReason(outDir = join(ROOT, 'dist')) {
  let builtAt;
  try {
    builtAt = statSync(join(outDir, STAMP)).mtimeMs;
  } catch {
    return `${relative(ROOT, outDir) || outDir} has no complete build`;
  }
  for (const input of [...SOURCE_DIRS, ...BUILD_INPUTS]) {
    const path = join(ROOT, input);
    const files = statSync(path, { throwIfNoEntry: false })?.isDirectory() ? filesUnder(path) : [path];
    for (const file of files) {
      const changed = statSync(file, { throwIfNoEntry: false })?.mtimeMs;
      if (changed !== undefined && changed > builtAt) return `${relative(ROOT, file)} changed since the last build`;
    }
  }
  return null;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--out');
  const outDir = at > 0 ? resolve(process.argv[at + 1] ?? 'dist') : undefined;
  const started = Date.now();
  try {
    const { outDir: out, assets } = build(outDir);
    console.log(`build: compiled to ${relative(process.cwd(), out) || out}/ (${assets} asset files copied) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    console.error(`build: ${err.message}`);
    process.exit(1);
  }
}
