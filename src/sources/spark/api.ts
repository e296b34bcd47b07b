/**
 * What one Spark API kind offers the poller: how a tracked id is polled, how a cluster's
 * active applications are listed (discovery), and which run label carries the id.
 */
import type { SparkHttp } from './http-client.js';
import type { SparkObservation } from './observation.js';

export const SPARK_KINDS = ['standalone-rest', 'monitoring-api', 'standalone-master', 'yarn', 'livy'] as const;
export type SparkKind = (typeof SPARK_KINDS)[number];

/**
 * Labels a pushed run carries so the poller follows it (the "push fields"):
 * `spark_cluster` names the configured cluster (optional when only one is configured),
 * plus the id the cluster knows it by.
 */
export const SPARK_LABELS = {
  cluster: 'spark_cluster',
  submissionId: 'spark_submission_id',
  appId: 'spark_app_id',
  batchId: 'livy_batch_id',
} as const;

export interface SparkApi {
  kind: SparkKind;
  /** The labels that carry the id this kind is polled by, in order of preference. */
  idLabels: readonly string[];
  /** One tracked id; throws PollError (`not_found` when the cluster no longer knows it). */
  poll?(http: SparkHttp, id: string): Promise<SparkObservation>;
  /** All tracked ids from one answer (master /json); ids absent from the map were not found. */
  pollMany?(http: SparkHttp, ids: readonly string[]): Promise<Map<string, SparkObservation>>;
  /** Active (non-terminal) applications, for discovery. */
  discover?(http: SparkHttp): Promise<SparkObservation[]>;
}
