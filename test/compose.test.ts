import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startService } from './support/service.ts';

/**
 * No Docker engine runs here, so the Dockerfile, .dockerignore and docker-compose.yml are checked
 * as files: the promises the README makes about them (multi-stage, non-root, node as PID 1,
 * profiles whose dependencies follow, ports on 127.0.0.1, Kafka's data really on the volume,
 * comments that match the settings, a dashboard whose metrics exist).
 */
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ROOT = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Json>; volumes: Record<string, unknown> };
const services = compose.services;
const BACKEND_PROFILES = ['demo', 'redis', 'kafka', 'mongo'];
const enabledIn = (profile: string) => Object.keys(services).filter((name) => (services[name]!.profiles ?? []).includes(profile));
const dependsOn = (service: Json): string[] => (Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {}));
const isApp = (name: string) => name.startsWith('ridecast-');

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  // Instructions, with `\` continuations joined and comments dropped.
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { from: string; name?: string; lines: string[] }[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ from: from[1]!, name: from[2], lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  const final = stages.at(-1)!;

  it('builds in one stage and runs from a slim one with production dependencies only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages.find((s) => s.lines.some((l) => /^RUN .*(scripts\/build\.mjs|npm run build)/.test(l)))!;
    expect(build, 'a stage that compiles').toBeDefined();
    expect(final).not.toBe(build);
    expect(final.from).toMatch(/^node:20[-.\w]*slim/);
    // Production dependencies: installed with --omit=dev in the final stage or copied from a stage that did.
    const prodStage = stages.find((s) => s.lines.some((l) => /npm ci\b.*--omit=dev/.test(l)))!;
    expect(prodStage).toBeDefined();
    if (prodStage !== final) expect(final.lines).toContain(`COPY --from=${prodStage.name} /app/node_modules ./node_modules`);
    expect(final.lines).toContain(`COPY --from=${build.name} /app/dist ./dist`);
    // What package.json exports from the sources (the client SDK the map bundles at start-up) is in the image too.
    const pkg = JSON.parse(read('package.json')) as { exports?: Record<string, string | Record<string, string>> };
    for (const entry of Object.values(pkg.exports ?? {}))
      for (const target of typeof entry === 'string' ? [entry] : Object.values(entry))
        if (target.startsWith('./src/')) {
          const folder = target.slice(2).split('/').slice(0, -1).join('/');
          expect(final.lines, target).toContain(`COPY --from=${build.name} /app/${folder} ./${folder}`);
        }
    // Never the host's files wholesale (node_modules built elsewhere, .git, results).
    for (const stage of stages) expect(stage.lines.filter((l) => /^COPY\s+\.\s/.test(l))).toEqual([]);
    // The build stage has every folder the compiler needs.
    const tsconfig = JSON.parse(read('tsconfig.build.json').replace(/^\s*\/\/.*$/gm, '')) as { include: string[] };
    for (const folder of [...tsconfig.include, 'scripts']) expect(build.lines.some((l) => new RegExp(`^COPY ${folder} `).test(l)), folder).toBe(true);
  });

  it('runs as a non-root user, node itself as PID 1, and checks readiness', () => {
    const user = final.lines.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user!.slice(5).trim()).not.toMatch(/^(root|0)(:|$)/);
    const cmd = final.lines.filter((l) => l.startsWith('CMD ')).at(-1)!;
    const argv = JSON.parse(cmd.slice(4)) as string[];
    expect(argv[0]).toBe('node');
    expect(argv[1]).toMatch(/^dist\/.+\.js$/);
    // The compiled entry is the server's source compiled.
    expect(existsSync(join(ROOT, argv[1]!.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    expect(final.lines.some((l) => l.startsWith('ENTRYPOINT'))).toBe(false);
    const health = final.lines.find((l) => l.startsWith('HEALTHCHECK '))!;
    expect(health).toMatch(/\/readyz/);
    expect(health).toMatch(/CMD \[/);
  });

  it('.dockerignore keeps the host’s dependencies, history and results out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const entry of ['node_modules', '.git', 'dist', 'bench/results', 'test-artifacts']) expect(ignored).toContain(entry);
  });
});

describe('docker-compose.yml', () => {
  it('starts nothing without a profile, and each backend profile runs one service with what it needs', () => {
    for (const [name, service] of Object.entries(services)) expect(service.profiles?.length, `${name} has a profile`).toBeGreaterThan(0);
    for (const profile of BACKEND_PROFILES) {
      const enabled = new Set(enabledIn(profile));
      const apps = [...enabled].filter(isApp);
      expect(apps, profile).toHaveLength(1);
      const env = services[apps[0]!]!.environment as Record<string, string>;
      // The backends its settings name, and no others.
      const needed = new Set<string>();
      if (env.TRANSPORT === 'redis' || env.REDIS_URL) needed.add('redis');
      if (env.TRANSPORT === 'kafka') needed.add('kafka');
      if (env.READ_MODEL === 'mongo') needed.add('mongo');
      expect([...enabled].filter((n) => !isApp(n)).sort(), profile).toEqual([...needed].sort());
      expect(dependsOn(services[apps[0]!]!).sort(), profile).toEqual([...needed].sort());
      for (const backend of needed) expect(JSON.stringify(env), `${profile} reaches ${backend} by name`).toContain(`${backend}:`);
    }
    expect(services['ridecast-demo']!.environment.TRANSPORT).toBe('memory');
    expect(services['ridecast-demo']!.environment.SIMULATE).toMatch(/^\$\{SIMULATE:-[1-9]\d*\}$/);
  });

  it('has every dependency enabled in every profile that enables its dependant', () => {
    const profiles = new Set(Object.values(services).flatMap((s) => s.profiles as string[]));
    for (const profile of profiles) {
      const enabled = new Set(enabledIn(profile));
      for (const name of enabled) for (const dep of dependsOn(services[name]!)) expect(enabled.has(dep), `${profile}: ${name} → ${dep}`).toBe(true);
    }
  });

  it('publishes every port on 127.0.0.1 only', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const port of (service.ports ?? []) as (string | Json)[]) {
        if (typeof port === 'string') expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
        else expect(port.host_ip, name).toBe('127.0.0.1');
      }
    }
  });

  it('keeps Kafka’s data where Kafka writes it, and every named volume declared', () => {
    const kafka = services.kafka!;
    const logDirs = String(kafka.environment.KAFKA_LOG_DIRS);
    expect(logDirs).toBeTruthy();
    const mounts = (kafka.volumes as string[]).map((v) => v.split(':'));
    expect(mounts.some(([source, target]) => source === 'kafka-data' && target === logDirs)).toBe(true);
    expect(kafka.environment.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
    for (const service of Object.values(services))
      for (const volume of (service.volumes ?? []) as string[]) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.')) expect(existsSync(join(ROOT, source)), source).toBe(true);
        else expect(Object.keys(compose.volumes), source).toContain(source);
      }
  });

  it('says in its comments and in the README the Redis fsync policy it sets', () => {
    const command = services.redis!.command as string[];
    expect(command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    const policy = command[command.indexOf('--appendfsync') + 1];
    expect(['always', 'everysec', 'no']).toContain(policy);
    const redisBlock = read('docker-compose.yml').split(/\n  redis:\n/)[1]!.split(/\n  \w[\w-]*:\n/)[0]!;
    const comments = redisBlock.split('\n').filter((l) => l.trim().startsWith('#')).join('\n');
    expect(comments).toContain(`appendfsync ${policy}`);
    const docker = read('README.md').split('\n## ').find((s) => s.startsWith('Docker'));
    expect(docker, 'a README Docker section').toBeDefined();
    expect(docker).toContain(`appendfsync ${policy}`);
  });

  it('runs the simulator in the demo profile and every app under the name Prometheus scrapes', () => {
    const prometheus = parse(read('deploy/prometheus/prometheus.yml')) as Json;
    const job = prometheus.scrape_configs.find((c: Json) => c.job_name === 'ridecast');
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    const target = job.static_configs[0].targets[0] as string;
    const [host] = target.split(':');
    for (const name of Object.keys(services).filter(isApp)) expect(services[name]!.networks.default.aliases, name).toContain(host);
    expect(enabledIn('observability').sort()).toEqual(['grafana', 'prometheus']);
  });
});

describe('the Grafana dashboard', () => {
  let service: Awaited<ReturnType<typeof startService>>;
  beforeAll(async () => {
    service = await startService();
  });
  afterAll(() => service?.close());

  const dashboard = JSON.parse(read('deploy/grafana/dashboards/ridecast.json')) as Json;
  const exprs = (dashboard.panels as Json[]).flatMap((p) => (p.targets as Json[]).map((t) => t.expr as string));

  it('shows ingest rate, push latency, consumer lag, dead letters and rejections by reason', () => {
    const titles = (dashboard.panels as Json[]).map((p) => p.title as string);
    expect(titles).toEqual(expect.arrayContaining(['Ingest rate', 'Push latency', 'Consumer lag', 'Dead letters', 'GPS rejections by reason']));
    expect(exprs.join('\n')).toMatch(/by \(reason\)/);
  });

  it('queries only metrics the service really exports', async () => {
    const text = (await service.app.inject({ method: 'GET', url: '/metrics' })).body;
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(ridecast_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''))));
    expect(used.size).toBeGreaterThanOrEqual(8);
    expect(text).toMatch(/^ridecast_dead_letters 0$/m);
    for (const metric of used) expect(exported, metric).toContain(metric);
  });

  it('is provisioned from the folder compose mounts', () => {
    const provider = parse(read('deploy/grafana/provisioning/dashboards/ridecast.yml')) as Json;
    const mounts = (services.grafana!.volumes as string[]).map((v) => v.split(':'));
    const path = provider.providers[0].options.path as string;
    expect(mounts.some(([source, target]) => source === './deploy/grafana/dashboards' && target === path)).toBe(true);
    const datasource = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as Json;
    expect(datasource.datasources[0].url).toBe('http://prometheus:9090');
    for (const panel of dashboard.panels as Json[]) expect(panel.datasource.uid).toBe(datasource.datasources[0].uid);
  });
});
