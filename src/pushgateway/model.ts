/**
 * The Pushgateway's data model as jobpulse keeps it: a *group* is everything pushed
 * under one grouping key (the labels in the push URL); it holds metric families in the
 * shape of io.prometheus.client.MetricFamily, already normalised (labels as a map,
 * numbers as numbers) so text and protobuf pushes end up identical.
 */
export type FamilyType = 'counter' | 'gauge' | 'untyped' | 'summary' | 'histogram';

export interface PushedMetric {
  /** Labels as pushed (the grouping labels are merged in at exposition time). */
  labels: Record<string, string>;
  /** counter, gauge, untyped. */
  value?: number;
  /** summary. */
  quantiles?: [number, number][];
  /** histogram: cumulative counts per upper bound, +Inf included. */
  buckets?: [number, number][];
  sum?: number;
  count?: number;
}

export interface MetricFamily {
  name: string;
  type: FamilyType;
  help?: string;
  metrics: PushedMetric[];
}

export interface Group {
  /** Canonical grouping key, see `groupKey`. */
  key: string;
  /** The grouping labels from the URL; always has `job`. */
  labels: Record<string, string>;
  /** By metric name. */
  families: Map<string, MetricFamily>;
  /** Unix ms of the last successful change, 0 if none yet (only failures). */
  push_time: number;
  /** Unix ms of the last failed change, 0 if none. */
  push_failure_time: number;
  /** Unix ms after which the group is expired and hidden; undefined = never. */
  expires_at?: number;
  /** Series identities of its samples, derived from families and labels; computed once by the registry. */
  series?: string[];
}

/**
 * Keys in code-unit order (what Array#sort gives), by insertion sort: label sets are small
 * and this runs for every push and sample, where Array#sort's work arrays showed up as
 * garbage in the heap profile.
 */
export function sortedKeys(o: Record<string, string>): string[] {
  const keys = Object.keys(o);
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > k) {
      keys[j + 1] = keys[j] as string;
      j -= 1;
    }
    keys[j + 1] = k;
  }
  return keys;
}

/** Label names in a fixed order so one group has one key whatever the URL's order was. */
export const groupKey = (labels: Record<string, string>): string => JSON.stringify(sortedKeys(labels).map((k) => [k, labels[k]]));

/** Pushgateway's reserved families: a pushed value for them is replaced by the gateway's own. */
export const PUSH_TIME = 'push_time_seconds';
export const PUSH_FAILURE_TIME = 'push_failure_time_seconds';
export const PUSH_TIME_HELP = 'Last Unix time when changing this group in the Pushgateway succeeded.';
export const PUSH_FAILURE_TIME_HELP = 'Last Unix time when changing this group in the Pushgateway failed.';
