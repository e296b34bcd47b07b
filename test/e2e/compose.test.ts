/**
 * The docker-compose stack, validated offline (no Docker engine here): the YAML's
 * structure, every file it mounts or builds from exists, the Prometheus config passes
 * `promtool check config` together with the shipped rules, the Alertmanager config passes
 * `amtool check-config`, and the agent's config passes the agent's own config parser.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../src/config/schema.js';
import { hasBinary } from '../support/require-binary.js';
import { tempDir } from '../support/temp-dir.js';

interface Service {
  image?: string;
  build?: string;
  ports?: string[];
  volumes?: string[];
  depends_on?: string[];
  command?: string[];
  environment?: Record<string, string>;
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;
/** host path → container path of a service's bind mounts (named volumes skipped). */
const mounts = (s: Service): [string, string][] =>
  (s.volumes ?? []).filter((v) => v.startsWith('./')).map((v) => v.split(':').slice(0, 2) as [string, string]);

describe('docker-compose.yml', () => {
  it('runs jobpulse, Prometheus, Alertmanager with a receiver, Grafana, Redis and Kafka', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['jobpulse', 'prometheus', 'alertmanager', 'alert-echo', 'grafana', 'redis', 'kafka']));
    for (const [name, s] of Object.entries(services)) expect(s.image ?? s.build, name).toBeTruthy();
    expect(services.jobpulse?.build).toBe('.');
    expect(services.kafka?.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });

  it('mounts and builds only files that exist', () => {
    expect(existsSync('Dockerfile')).toBe(true);
    for (const [name, s] of Object.entries(services))
      for (const [host] of mounts(s)) expect(existsSync(host), `${name}: ${host}`).toBe(true);
  });

  it('declares every named volume and every dependency, and publishes distinct ports', () => {
    const published: string[] = [];
    for (const [name, s] of Object.entries(services)) {
      for (const v of (s.volumes ?? []).filter((x) => !x.startsWith('./'))) expect(compose.volumes, `${name}: ${v}`).toHaveProperty(v.split(':')[0] as string);
      for (const d of s.depends_on ?? []) expect(services, `${name} depends on ${d}`).toHaveProperty(d);
      published.push(...(s.ports ?? []).map((p) => p.split(':')[0] as string));
    }
    expect(new Set(published).size).toBe(published.length);
  });

  it('gives the agent a config its own parser accepts, at the path the image reads', () => {
    const [host, container] = mounts(services.jobpulse as Service).find(([h]) => h.endsWith('.yaml')) ?? [];
    expect(container).toBe('/etc/jobpulse/jobpulse.yaml');
    expect(readFileSync('Dockerfile', 'utf8')).toContain(container);
    const config = parseConfig(parse(readFileSync(host as string, 'utf8')));
    expect(config.http.port).toBe(9469);
  });

  it('builds an image that starts on its own (docker run without compose): a config at the path CMD reads, the SQLite file in the volume', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const cmdConfig = /CMD \["serve", "--config", "([^"]+)"\]/.exec(dockerfile)?.[1];
    expect(cmdConfig).toBe('/etc/jobpulse/jobpulse.yaml');
    expect(dockerfile).toContain(`COPY jobpulse.example.yaml ${cmdConfig}`);
    const db = /ENV JOBPULSE_DB=(\S+)/.exec(dockerfile)?.[1];
    const volume = /VOLUME \["([^"]+)"\]/.exec(dockerfile)?.[1];
    expect(db?.startsWith(`${volume}/`)).toBe(true);
    // The example the image ships is a config the agent accepts as it is.
    expect(parseConfig(parse(readFileSync('jobpulse.example.yaml', 'utf8'))).store.kind).toBe('sqlite');
  });

  it('provisions Grafana from the repository', () => {
    const m = new Map(mounts(services.grafana as Service));
    expect(m.get('./grafana/provisioning')).toBe('/etc/grafana/provisioning');
    expect(m.get('./grafana/dashboards')).toBeDefined();
  });
});

describe.skipIf(!hasBinary('promtool', 'prometheus'))('deploy/prometheus.yml', () => {
  it('passes promtool check config with the shipped rules, and scrapes the job the alerts expect', () => {
    const m = new Map(mounts(services.prometheus as Service));
    const rulesAt = m.get('./rules') as string;
    const doc = parse(readFileSync('deploy/prometheus.yml', 'utf8')) as { rule_files: string[]; scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    expect(doc.rule_files).toEqual([`${rulesAt}/*.yml`]);
    expect(doc.scrape_configs.find((s) => s.job_name === 'jobpulse')?.static_configs[0]?.targets).toEqual(['jobpulse:9469']);
    // the container sees ./rules at rulesAt; check the same config against the repo's rules
    const tmp = tempDir();
    try {
      const file = join(tmp.path, 'prometheus.yml');
      writeFileSync(file, stringify({ ...doc, rule_files: [`${resolve('rules')}/*.yml`] }));
      const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
      const out = r.stdout + r.stderr;
      expect(out).toContain('is valid prometheus config file syntax');
      expect(out).toMatch(/SUCCESS: \d+ rules found/);
      expect(out).not.toContain('FAILED');
      expect(r.status).toBe(0);
    } finally {
      tmp.cleanup();
    }
  });
});

describe.skipIf(!hasBinary('amtool', 'prometheus-alertmanager'))('deploy/alertmanager.yml', () => {
  it('passes amtool check-config and routes to a receiver the stack runs', () => {
    const r = spawnSync('amtool', ['check-config', 'deploy/alertmanager.yml'], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
    const doc = parse(readFileSync('deploy/alertmanager.yml', 'utf8')) as { receivers: { webhook_configs?: { url: string }[] }[] };
    const host = new URL(doc.receivers[0]?.webhook_configs?.[0]?.url ?? '').hostname;
    expect(services).toHaveProperty(host);
  });
});
