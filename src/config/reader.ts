/**
 * A small typed reader over the raw YAML tree: each `read*` call names a key path,
 * its default and what it expects, and collects every problem instead of stopping at
 * the first, so one start-up message lists all of them. Keys nobody read are reported
 * as unknown (a typo in a config must not be silently ignored).
 */
import type { Issue } from '../domain/errors.js';
import { formatDuration, parseDuration } from '../runtime/duration.js';
import { editDistance } from './edit-distance.js';

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

export class ConfigReader {
  readonly issues: Issue[] = [];
  private readonly seen = new Set<string>();
  private readonly freeForm = new Set<string>();

  constructor(private readonly tree: Raw) {}

  private lookup(path: string): unknown {
    this.seen.add(path);
    let cur: unknown = this.tree;
    for (const part of path.split('.')) {
      if (!isObj(cur)) return undefined;
      cur = cur[part];
    }
    return cur;
  }

  private fail(path: string, message: string, got: unknown): void {
    this.issues.push({ path, message: `${message}, got ${JSON.stringify(got)}` });
  }

  int(path: string, def: number, opts: { min?: number; max?: number } = {}): number {
    const v = this.lookup(path);
    if (v === undefined || v === null) return def;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    const { min = -Infinity, max = Infinity } = opts;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      this.fail(path, `expected an integer${min > -Infinity ? ` from ${min}` : ''}${max < Infinity ? ` to ${max}` : ''}`, v);
      return def;
    }
    return n;
  }

  number(path: string, def: number, opts: { min?: number; max?: number } = {}): number {
    const v = this.lookup(path);
    if (v === undefined || v === null) return def;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    const { min = -Infinity, max = Infinity } = opts;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) {
      this.fail(path, `expected a number${min > -Infinity ? ` from ${min}` : ''}${max < Infinity ? ` to ${max}` : ''}`, v);
      return def;
    }
    return n;
  }

  string(path: string, def: string, opts: { nonEmpty?: boolean } = {}): string {
    const v = this.lookup(path);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'string' && typeof v !== 'number') {
      this.fail(path, 'expected a string', v);
      return def;
    }
    const s = String(v);
    if (opts.nonEmpty && s === '') {
      this.fail(path, 'expected a non-empty string', v);
      return def;
    }
    return s;
  }

  optionalString(path: string): string | undefined {
    const v = this.lookup(path);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') {
      this.fail(path, 'expected a string', v);
      return undefined;
    }
    return v;
  }

  bool(path: string, def: boolean): boolean {
    const v = this.lookup(path);
    if (v === undefined || v === null) return def;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    this.fail(path, 'expected true or false', v);
    return def;
  }

  oneOf<T extends string>(path: string, def: T, allowed: readonly T[]): T {
    const v = this.lookup(path);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'string' || !allowed.includes(v as T)) {
      this.fail(path, `expected one of ${allowed.join(', ')}`, v);
      return def;
    }
    return v as T;
  }

  /** A duration such as `30s`, `10m`, `7d` (a bare number is seconds); returns milliseconds. */
  duration(path: string, def: number, opts: { min?: number } = {}): number {
    const v = this.lookup(path);
    if (v === undefined || v === null) return def;
    const ms = parseDuration(v);
    if (ms === undefined) {
      this.fail(path, 'expected a duration like 30s, 10m, 2h or 7d', v);
      return def;
    }
    // A valid duration under the minimum says which minimum: "expected a duration like 30s" for
    // "500ms" read as if 500ms were no duration at all.
    if (ms < (opts.min ?? 0)) {
      this.fail(path, `expected a duration of at least ${formatDuration(opts.min ?? 0)}`, v);
      return def;
    }
    return ms;
  }

  optionalDuration(path: string): number | undefined {
    const v = this.lookup(path);
    if (v === undefined || v === null) return undefined;
    return this.duration(path, 0);
  }

  /** A list of strings; a comma-separated string (from the environment) is accepted too. */
  strings(path: string, def: string[]): string[] {
    const v = this.lookup(path);
    if (v === undefined || v === null) return def;
    if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
      this.fail(path, 'expected a list of strings', v);
      return def;
    }
    return v as string[];
  }

  /** Keys of a map whose entries the caller reads itself (e.g. per-job overrides). */
  keys(path: string): string[] {
    const v = this.lookup(path);
    if (v === undefined || v === null) return [];
    if (!isObj(v)) {
      this.fail(path, 'expected a map', v);
      return [];
    }
    return Object.keys(v);
  }

  /** A subtree taken as-is (validated by its owner). */
  raw(path: string): unknown {
    const v = this.lookup(path);
    this.freeForm.add(path);
    return v;
  }

  /** Reports keys in the file that no reader asked for. */
  finish(): Issue[] {
    const walk = (node: unknown, prefix: string): void => {
      if (!isObj(node)) return;
      for (const [k, v] of Object.entries(node)) {
        const path = prefix ? `${prefix}.${k}` : k;
        if (this.freeForm.has(path)) continue;
        if (this.seen.has(path)) {
          walk(v, path);
          continue;
        }
        const isPrefix = [...this.seen].some((s) => s.startsWith(`${path}.`));
        if (isPrefix) walk(v, path);
        else {
          // The keys read at this level, for a "did you mean" (`http.prot` → `port`).
          const level = prefix ? `${prefix}.` : '';
          const siblings = new Set<string>();
          for (const s of this.seen) if (s.startsWith(level)) siblings.add(s.slice(level.length).split('.')[0] as string);
          const near = [...siblings].find((s) => editDistance(s, k) <= Math.min(2, Math.max(1, k.length - 2)));
          this.issues.push({ path, message: `unknown key${near ? ` (did you mean "${near}"?)` : ''}` });
        }
      }
    };
    walk(this.tree, '');
    return this.issues;
  }
}
