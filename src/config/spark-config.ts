/**
 * `spark.clusters`: a list the generic reader cannot walk, validated here key by key
 * with the same key paths (`spark.clusters[0].base_url`) and the same "unknown key" rule.
 */
import type { Issue } from '../domain/errors.js';
import { parseDuration } from '../runtime/duration.js';

export const SPARK_CLUSTER_KINDS = ['standalone-rest', 'monitoring-api', 'standalone-master', 'yarn', 'livy'] as const;
export type SparkClusterKind = (typeof SPARK_CLUSTER_KINDS)[number];

export interface SparkClusterConfig {
  name: string;
  kind: SparkClusterKind;
  base_url: string;
  /** ms between cycles. */
  interval: number;
  max_concurrent: number;
  /** ms per request. */
  request_timeout: number;
  /** Largest response body read, bytes: a bigger one is a `too_large` poll, not memory spent. */
  max_response_bytes: number;
  /** Longest wait between cycles while the cluster keeps failing, ms. */
  max_backoff: number;
  discovery: {
    enabled: boolean;
    /** The application field the job name comes from (`name` or `id`). */
    job_name_field: 'name' | 'id';
    /** Removed from the field's value (global), e.g. dates and ids. */
    job_name_strip?: string;
  };
}

export interface SparkConfig {
  clusters: SparkClusterConfig[];
}

/** Matches dates (2024-05-14, 20240514, with an optional time) and long hex/number ids. */
export const DEFAULT_JOB_NAME_STRIP = '[-_. ]?(\\d{4}-?\\d{2}-?\\d{2}([T_ -]?\\d{2}:?\\d{2}(:?\\d{2})?)?|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|\\d{6,})';

const CLUSTER_KEYS = new Set(['name', 'kind', 'base_url', 'interval', 'max_concurrent', 'request_timeout', 'max_response_bytes', 'max_backoff', 'discovery']);
const DISCOVERY_KEYS = new Set(['enabled', 'job_name']);
const JOB_NAME_KEYS = new Set(['field', 'strip']);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseSparkConfig(raw: unknown, issues: Issue[]): SparkConfig {
  const clusters: SparkClusterConfig[] = [];
  if (raw === undefined || raw === null) return { clusters };
  if (!Array.isArray(raw)) {
    issues.push({ path: 'spark.clusters', message: `expected a list of clusters, got ${JSON.stringify(raw)}` });
    return { clusters };
  }
  const names = new Set<string>();
  raw.forEach((c, i) => {
    const at = `spark.clusters[${i}]`;
    const fail = (key: string, message: string, got: unknown): void => {
      issues.push({ path: `${at}.${key}`, message: `${message}, got ${JSON.stringify(got)}` });
    };
    if (!isObj(c)) {
      issues.push({ path: at, message: `expected a map with name, kind and base_url, got ${JSON.stringify(c)}` });
      return;
    }
    for (const k of Object.keys(c)) if (!CLUSTER_KEYS.has(k)) issues.push({ path: `${at}.${k}`, message: 'unknown key' });
    const name = c.name;
    let okName = typeof name === 'string' && /^[a-zA-Z0-9_.-]{1,64}$/.test(name);
    if (!okName) fail('name', 'expected 1 to 64 letters, digits, ".", "_" or "-"', name);
    else if (names.has(name as string)) {
      okName = false;
      fail('name', 'expected a name no other cluster uses', name);
    }
    if (okName) names.add(name as string);
    const kind = c.kind;
    const okKind = typeof kind === 'string' && (SPARK_CLUSTER_KINDS as readonly string[]).includes(kind);
    if (!okKind) fail('kind', `expected one of ${SPARK_CLUSTER_KINDS.join(', ')}`, kind);
    const url = c.base_url;
    let okUrl = false;
    if (typeof url === 'string') {
      try {
        const u = new URL(url);
        okUrl = u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        okUrl = false;
      }
    }
    if (!okUrl) fail('base_url', 'expected an http(s) URL like http://spark-master:6066', url);
    const dur = (key: string, def: number, min: number): number => {
      const v = c[key];
      if (v === undefined || v === null) return def;
      const ms = parseDuration(v);
      if (ms === undefined || ms < min) {
        fail(key, `expected a duration like 15s or 2m (at least ${min} ms)`, v);
        return def;
      }
      return ms;
    };
    const interval = dur('interval', 15_000, 100);
    const request_timeout = dur('request_timeout', 10_000, 10);
    const max_backoff = dur('max_backoff', 5 * 60_000, 100);
    const int = (key: string, def: number, min: number, max: number, expected: string): number => {
      const v = c[key];
      if (v === undefined || v === null) return def;
      const n = typeof v === 'string' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
        fail(key, expected, v);
        return def;
      }
      return n;
    };
    const max_response_bytes = int('max_response_bytes', 64 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER, 'expected an integer of at least 1024 (bytes)');
    const max_concurrent = int('max_concurrent', 5, 1, 1000, 'expected an integer from 1 to 1000');
    const discovery: SparkClusterConfig['discovery'] = { enabled: false, job_name_field: 'name', job_name_strip: DEFAULT_JOB_NAME_STRIP };
    const d = c.discovery;
    if (d !== undefined && d !== null) {
      if (!isObj(d)) fail('discovery', 'expected a map with enabled and job_name', d);
      else {
        for (const k of Object.keys(d)) if (!DISCOVERY_KEYS.has(k)) issues.push({ path: `${at}.discovery.${k}`, message: 'unknown key' });
        if (d.enabled !== undefined) {
          if (typeof d.enabled === 'boolean') discovery.enabled = d.enabled;
          else fail('discovery.enabled', 'expected true or false', d.enabled);
        }
        if (discovery.enabled && kind === 'standalone-rest')
          fail('discovery.enabled', 'the standalone REST gateway cannot list applications; add a standalone-master cluster for discovery', d.enabled);
        const jn = d.job_name;
        if (jn !== undefined && jn !== null) {
          if (!isObj(jn)) fail('discovery.job_name', 'expected a map with field and strip', jn);
          else {
            for (const k of Object.keys(jn)) if (!JOB_NAME_KEYS.has(k)) issues.push({ path: `${at}.discovery.job_name.${k}`, message: 'unknown key' });
            if (jn.field !== undefined) {
              if (jn.field === 'name' || jn.field === 'id') discovery.job_name_field = jn.field;
              else fail('discovery.job_name.field', 'expected one of name, id', jn.field);
            }
            if (jn.strip === '' || jn.strip === null) discovery.job_name_strip = undefined;
            else if (jn.strip !== undefined) {
              try {
                if (typeof jn.strip !== 'string') throw new Error('not a string');
                new RegExp(jn.strip, 'g');
                discovery.job_name_strip = jn.strip;
              } catch {
                fail('discovery.job_name.strip', 'expected a regular expression (empty to keep the name whole)', jn.strip);
              }
            }
          }
        }
      }
    }
    if (okName && okKind && okUrl)
      clusters.push({
        name: name as string,
        kind: kind as SparkClusterKind,
        base_url: url as string,
        interval,
        max_concurrent,
        request_timeout,
        max_response_bytes,
        max_backoff,
        discovery,
      });
  });
  return { clusters };
}
