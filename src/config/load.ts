/**
 * Reads the YAML file (optional) and applies JOBPULSE_* environment overrides.
 * Well-known variables have short names; any key can be set with a path in which
 * `__` separates levels, e.g. JOBPULSE_LIMITS__MAX_JOBS=5000.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from '../domain/errors.js';
import { editDistance } from './edit-distance.js';
import { parseConfig, type Config } from './schema.js';

const SHORT_NAMES: Record<string, string> = {
  JOBPULSE_PORT: 'http.port',
  JOBPULSE_HOST: 'http.host',
  JOBPULSE_DB: 'store.sqlite.path',
  JOBPULSE_DURABILITY: 'store.sqlite.durability',
  JOBPULSE_LOG_LEVEL: 'log.level',
  JOBPULSE_WRITE_TOKENS: 'auth.write_tokens',
  JOBPULSE_READ_TOKENS: 'auth.read_tokens',
  JOBPULSE_ADMIN_TOKENS: 'auth.admin_tokens',
};

const setPath = (tree: Record<string, unknown>, path: string, value: unknown): void => {
  const parts = path.split('.');
  let cur = tree;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1] as string] = value;
};

/** Read by the client commands (run, push, jobs) and by `serve` itself: not settings, not errors. */
const CLIENT_NAMES = ['JOBPULSE_CONFIG', 'JOBPULSE_URL', 'JOBPULSE_TOKEN', 'JOBPULSE_SPOOL', 'JOBPULSE_RETRIES', 'JOBPULSE_BACKOFF_MS', 'JOBPULSE_SPOOL_MAX_EVENTS', 'JOBPULSE_SPOOL_MAX_BYTES'];

/**
 * Applies the JOBPULSE_* variables to the settings tree. A variable that is neither a setting
 * nor one the client commands read is refused like an unknown key in the file: a typo such as
 * JOBPULSE_PROT=8080 used to be ignored, and the agent started on another port.
 */
export function applyEnv(tree: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const unknown: { path: string; message: string }[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.startsWith('JOBPULSE_')) continue;
    const short = SHORT_NAMES[name];
    if (short) setPath(tree, short, value);
    else if (name.includes('__')) setPath(tree, name.slice('JOBPULSE_'.length).toLowerCase().split('__').join('.'), value);
    else if (!CLIENT_NAMES.includes(name)) {
      const near = [...Object.keys(SHORT_NAMES), ...CLIENT_NAMES].find((k) => editDistance(k, name) <= 2);
      unknown.push({ path: name, message: `unknown environment variable${near ? ` (did you mean ${near}?)` : ''}; settings are ${Object.keys(SHORT_NAMES).join(', ')}, or any key as JOBPULSE_SECTION__KEY` });
    }
  }
  if (unknown.length > 0) throw new ConfigError(unknown);
  return tree;
}

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): Config {
  let tree: Record<string, unknown> = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError([{ path: opts.file, message: `cannot read config file: ${(err as Error).message}` }]);
    }
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (err) {
      throw new ConfigError([{ path: opts.file, message: `not valid YAML: ${(err as Error).message.split('\n')[0]}` }]);
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== 'object' || Array.isArray(doc)) {
        throw new ConfigError([{ path: opts.file, message: 'expected a YAML map of settings at the top level' }]);
      }
      tree = doc as Record<string, unknown>;
    }
  }
  return parseConfig(applyEnv(tree, opts.env ?? {}));
}
