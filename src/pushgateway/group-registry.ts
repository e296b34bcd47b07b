/**
 * The pushed groups in memory, with the Pushgateway's consistency checks made
 * incremental.
 *
 * The real Pushgateway checks a push by gathering *every* group into one registry and
 * running client_golang's consistency check over all of it, so one push costs O(all
 * samples) (measured: ~4 pushes/s at 10k groups). The same rules hold here with two
 * indexes kept up to date as groups change:
 * - `types`: metric name → its type and how many groups carry it; a push may not give a
 *   name another type while any *other* group still has it ("is not a COUNTER").
 * - `owners`: full sample identity (name + label set after grouping labels are applied)
 *   → the group that exposes it; two groups may not expose the same series, and one
 *   push may not contain the same series twice.
 * - suffix collisions (`x_count` next to a summary `x`, ...) through `types` too.
 * A check costs O(samples in the push).
 *
 * `prepare` validates and returns the group as it would be; `commit` makes it visible.
 * Callers make the change durable between the two (see pushgateway-api.ts), or `abort` it.
 * Between the two, the change is a reservation: the types it brings and the series it adds
 * count against every other push prepared meanwhile. Checking against committed groups only
 * let two concurrent pushes to different groups give one name two types (both answered 200,
 * one group's samples then exposed under the other's TYPE): 32 of 50 such races at once.
 */
import { seriesNames } from '../metrics/names.js';
import { PUSH_FAILURE_TIME, PUSH_TIME, sortedKeys, type Group, type MetricFamily, type PushedMetric } from './model.js';

export class InconsistentPushError extends Error {
  constructor(detail: string) {
    super(`pushed metrics are invalid or inconsistent with existing metrics: ${detail}`);
  }
}

/** Labels of a sample as exposed: pushed labels, overridden by the grouping labels, `instance=""` by default. */
export function exposedLabels(group: Pick<Group, 'labels'>, m: PushedMetric): Record<string, string> {
  const out: Record<string, string> = { ...m.labels, ...group.labels };
  if (out.instance === undefined) out.instance = '';
  return out;
}

/** A series' identity: name and label pairs in name order (label names cannot contain `=` or `,`; values are JSON-quoted). */
const sampleId = (name: string, labels: Record<string, string>): string => {
  let id = `${name}\u0000`;
  for (const k of sortedKeys(labels)) id += `${k}=${JSON.stringify(labels[k])},`;
  return id;
};

/** The group's series identities (cached on the group: families never change after commit). */
function seriesOf(g: Group): string[] {
  if (!g.series) {
    const out: string[] = [];
    for (const f of g.families.values()) for (const m of f.metrics) out.push(sampleId(f.name, exposedLabels(g, m)));
    g.series = out;
  }
  return g.series;
}

/** Where each family's samples start in the group's series list (the order seriesOf builds it in). */
function seriesStarts(g: Group): Map<string, number> {
  const out = new Map<string, number>();
  let n = 0;
  for (const f of g.families.values()) {
    out.set(f.name, n);
    n += f.metrics.length;
  }
  return out;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n += 1;
  }
  for (const _ in b) n -= 1;
  return n === 0;
}

/** True when committing `next` over `prev` would leave the type counts and series owners as they are. */
function sameIndexEntries(prev: Group, next: Group): boolean {
  const a = seriesOf(prev);
  const b = seriesOf(next);
  if (a.length !== b.length || prev.families.size !== next.families.size) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  for (const f of next.families.values()) if (prev.families.get(f.name)?.type !== f.type) return false;
  return true;
}

export interface PushChange {
  /** The group as it will be after the push. */
  group: Group;
  /** The group before (undefined if new). */
  previous: Group | undefined;
}

export class GroupRegistry {
  /**
   * @param reserved names the agent exposes itself (its job_*, jobpulse_*, process_* and nodejs_*
   *   families and their sample names): a pushed family showing one of them would put a second
   *   TYPE line for it on /metrics, and Prometheus would refuse the whole scrape.
   */
  constructor(private readonly reserved: (name: string) => boolean = () => false) {}

  private readonly groups = new Map<string, Group>();
  private readonly types = new Map<string, { type: MetricFamily['type']; groups: number }>();
  private readonly owners = new Map<string, string>();
  /**
   * Prepared, not yet committed changes (one per key: callers serialise a key's changes):
   * the family types they introduce and the series they add, against other prepares.
   */
  private readonly pending = new Map<string, { group: Group; types: [string, MetricFamily['type']][]; series: string[] }>();
  private readonly pendingTypes = new Map<string, { type: MetricFamily['type']; groups: number }>();
  private readonly pendingOwners = new Map<string, string>();
  /** Bumped on every change; the exposer re-renders when it moved. */
  version = 0;

  get size(): number {
    return this.groups.size;
  }

  get(key: string): Group | undefined {
    return this.groups.get(key);
  }

  all(): IterableIterator<Group> {
    return this.groups.values();
  }

  /**
   * The group after a PUT (replace all families) or POST (replace the families it
   * names), or an InconsistentPushError saying why the push is refused.
   */
  prepare(opts: { key: string; labels: Record<string, string>; families: MetricFamily[]; replaceAll: boolean; now: number; expiresAt?: number }): PushChange {
    const previous = this.groups.get(opts.key);
    const pushed = new Map<string, MetricFamily>();
    for (const f of opts.families) {
      // The gateway owns these two: a pushed value is replaced by its own, as the Pushgateway does.
      if (f.name === PUSH_TIME || f.name === PUSH_FAILURE_TIME) continue;
      const dup = pushed.get(f.name);
      if (dup) {
        if (dup.type !== f.type) throw new InconsistentPushError(`metric "${f.name}" pushed twice with types ${dup.type} and ${f.type}`);
        pushed.set(f.name, { ...dup, metrics: [...dup.metrics, ...f.metrics] });
      } else pushed.set(f.name, f);
    }
    const families = opts.replaceAll || !previous ? pushed : new Map([...previous.families, ...pushed]);
    const group: Group = { key: opts.key, labels: opts.labels, families, push_time: opts.now, push_failure_time: previous?.push_failure_time ?? 0 };
    if (opts.expiresAt !== undefined) group.expires_at = opts.expiresAt;

    for (const f of pushed.values()) {
      for (const n of seriesNames(f.name, f.type))
        if (this.reserved(n)) throw new InconsistentPushError(`metric "${f.name}" collides with "${n}", which jobpulse exposes itself`);
      const t = this.types.get(f.name);
      if (t && t.type !== f.type) {
        const ownShare = previous?.families.get(f.name) ? 1 : 0;
        if (t.groups - ownShare > 0) throw new InconsistentPushError(`metric "${f.name}" pushed as ${f.type.toUpperCase()} is not a ${t.type.toUpperCase()} as in other groups`);
      }
      const p = this.pendingTypes.get(f.name);
      if (p && p.type !== f.type) throw new InconsistentPushError(`metric "${f.name}" pushed as ${f.type.toUpperCase()} is not a ${p.type.toUpperCase()} as in other groups`);
    }
    // Label names client_golang's checkMetricConsistency refuses (the Pushgateway records the
    // refusal): the reserved `__` prefix, and `quantile` on a summary. Also `le` on a histogram,
    // which the Pushgateway takes and then exposes with two `le` labels (a scrape Prometheus
    // refuses whole): refused here, a deliberate difference.
    const bound = (type: MetricFamily['type']): string | undefined => (type === 'summary' ? 'quantile' : type === 'histogram' ? 'le' : undefined);
    for (const f of pushed.values()) {
      const b = bound(f.type);
      if (b !== undefined && opts.labels[b] !== undefined) throw new InconsistentPushError(`${f.type} "${f.name}" must not have an explicit "${b}" label (it is in the grouping key)`);
      for (const m of f.metrics)
        for (const k in m.labels) {
          if (k.charCodeAt(0) === 95 && k.charCodeAt(1) === 95) throw new InconsistentPushError(`metric "${f.name}" has a label with an invalid name "${k}" (the "__" prefix is reserved)`);
          if (k === b) throw new InconsistentPushError(`${f.type} "${f.name}" must not have an explicit "${b}" label`);
        }
    }
    // Suffix collisions, as client_golang's checkSuffixCollisions refuses them in the Pushgateway:
    // `x_count`/`x_sum` next to a summary or histogram `x`, `x_bucket` next to a histogram `x`,
    // in either order, against the other groups and within this group's new version.
    const typeOf = (name: string): MetricFamily['type'] | undefined => {
      const own = families.get(name);
      if (own) return own.type;
      const t = this.types.get(name);
      return t && t.groups - (previous?.families.has(name) ? 1 : 0) > 0 ? t.type : this.pendingTypes.get(name)?.type;
    };
    for (const f of families.values()) {
      const suffix = f.name.endsWith('_count') ? '_count' : f.name.endsWith('_sum') ? '_sum' : f.name.endsWith('_bucket') ? '_bucket' : '';
      if (suffix !== '') {
        const base = f.name.slice(0, -suffix.length);
        const bt = typeOf(base);
        if (bt === 'histogram' || (bt === 'summary' && suffix !== '_bucket'))
          throw new InconsistentPushError(`collected metric named "${f.name}" collides with previously collected ${bt} named "${base}"`);
      }
      if (f.type === 'summary' || f.type === 'histogram') {
        for (const s of f.type === 'histogram' ? ['_count', '_sum', '_bucket'] : ['_count', '_sum']) {
          if (typeOf(f.name + s) !== undefined) throw new InconsistentPushError(`collected ${f.type} named "${f.name}" collides with previously collected metric named "${f.name}${s}"`);
        }
      }
    }

    // Each sample's identity is computed once here and kept on the group for index/unindex.
    // A re-push mostly carries the previous version's series: a sample whose labels equal
    // those of the previous version's sample at the same place in the same family keeps that
    // identity (the grouping labels are the key's own), and no other group can own it.
    const series: string[] = [];
    const added: string[] = [];
    const seen = new Set<string>();
    const before = previous ? seriesStarts(previous) : undefined;
    const previousSeries = previous ? seriesOf(previous) : [];
    for (const f of families.values()) {
      const pf = previous?.families.get(f.name);
      const start = before?.get(f.name);
      f.metrics.forEach((m, i) => {
        const pm = pf?.metrics[i];
        const reused = pm && start !== undefined && sameLabels(pm.labels, m.labels) ? previousSeries[start + i] : undefined;
        const id = reused ?? sampleId(f.name, exposedLabels(group, m));
        if (seen.has(id))
          throw new InconsistentPushError(`metric "${f.name}" with labels ${JSON.stringify(exposedLabels(group, m))} was collected before with the same name and label values`);
        seen.add(id);
        series.push(id);
        if (reused !== undefined) return;
        const owner = this.owners.get(id) ?? this.pendingOwners.get(id);
        if (owner !== undefined && owner !== opts.key) {
          throw new InconsistentPushError(`metric "${f.name}" with labels ${JSON.stringify(exposedLabels(group, m))} is already exposed by another group`);
        }
        if (owner === undefined) added.push(id);
      });
    }
    group.series = series;
    this.reserve(group, previous, added);
    return { group, previous };
  }

  /** Drops a prepared change that will not be committed (its write failed). */
  abort(group: Group): void {
    this.release(group);
  }

  /**
   * Reserves what a prepared group brings that committed groups do not hold for it: families
   * new to it or of a changed type, and series no group owns. A re-push of the same families
   * and series reserves nothing (the committed indexes already count it).
   */
  private reserve(group: Group, previous: Group | undefined, added: string[]): void {
    this.release(this.pending.get(group.key)?.group);
    const types: [string, MetricFamily['type']][] = [];
    for (const f of group.families.values()) {
      if (previous?.families.get(f.name)?.type === f.type) continue;
      types.push([f.name, f.type]);
      const p = this.pendingTypes.get(f.name);
      if (p) p.groups += 1;
      else this.pendingTypes.set(f.name, { type: f.type, groups: 1 });
    }
    for (const id of added) this.pendingOwners.set(id, group.key);
    if (types.length > 0 || added.length > 0) this.pending.set(group.key, { group, types, series: added });
  }

  private release(group: Group | undefined): void {
    if (!group) return;
    const r = this.pending.get(group.key);
    if (!r || r.group !== group) return;
    this.pending.delete(group.key);
    for (const [name] of r.types) {
      const p = this.pendingTypes.get(name);
      if (p && --p.groups <= 0) this.pendingTypes.delete(name);
    }
    for (const id of r.series) if (this.pendingOwners.get(id) === group.key) this.pendingOwners.delete(id);
  }

  /** Makes a prepared (and durable) group visible and updates the indexes. */
  commit(group: Group): void {
    this.release(group);
    const prev = this.groups.get(group.key);
    // The same families and series as before (a re-push with new values): the indexes stand.
    if (prev && sameIndexEntries(prev, group)) {
      this.groups.set(group.key, group);
      this.version += 1;
      return;
    }
    if (prev) this.unindex(prev);
    this.groups.set(group.key, group);
    this.index(group);
    this.version += 1;
  }

  /** Records a refused push on the group (creating it empty, as the Pushgateway does). */
  failed(key: string, labels: Record<string, string>, now: number): Group {
    const prev = this.groups.get(key);
    if (!prev) return { key, labels, families: new Map(), push_time: 0, push_failure_time: now };
    // Copied, then changed: a spread with a changed property is slow on Node 20.
    const group = Object.assign({}, prev);
    group.push_failure_time = now;
    return group;
  }

  delete(key: string): Group | undefined {
    const prev = this.groups.get(key);
    if (!prev) return undefined;
    this.unindex(prev);
    this.groups.delete(key);
    this.version += 1;
    return prev;
  }

  clear(): number {
    const n = this.groups.size;
    this.groups.clear();
    this.types.clear();
    this.owners.clear();
    this.version += 1;
    return n;
  }

  private index(g: Group): void {
    for (const f of g.families.values()) {
      const t = this.types.get(f.name);
      if (t) t.groups += 1;
      else this.types.set(f.name, { type: f.type, groups: 1 });
    }
    for (const id of seriesOf(g)) this.owners.set(id, g.key);
  }

  private unindex(g: Group): void {
    for (const f of g.families.values()) {
      const t = this.types.get(f.name);
      if (t) {
        t.groups -= 1;
        if (t.groups <= 0) this.types.delete(f.name);
      }
    }
    for (const id of seriesOf(g)) if (this.owners.get(id) === g.key) this.owners.delete(id);
  }
}
