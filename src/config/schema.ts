/**
 * The one Config type, its defaults, and the rules for every key. The commented
 * example in `jobpulse.example.yaml` documents the same keys; a test keeps them in step.
 */
import cron from 'node-cron';
import { CronExpressionParser } from 'cron-parser';
import { ConfigError } from '../domain/errors.js';
import { LOG_LEVELS, type LogLevel } from '../runtime/logger.js';
import { ConfigReader } from './reader.js';
import { parseSparkConfig, type SparkConfig } from './spark-config.js';

export type Durability = 'process' | 'power';

/** What a job is expected to do; detectors compare runs against it. Durations in ms. */
export interface JobExpectations {
  stuck_after: number;
  submitting_timeout: number;
  max_duration?: number;
  /** `timeout` ends the run as timed_out; `flag` only marks it overdue. */
  max_duration_action: 'timeout' | 'flag';
  crash_after: number;
  min_duration?: number;
  max_age?: number;
  schedule?: string;
  timezone: string;
  grace: number;
  /**
   * A progress or heartbeat without run_id that comes while the job has no unfinished run, less
   * than this after its latest run ended (by the event's time), belongs to that run: recorded,
   * not applied. Later ones open a new run.
   */
  late_event_window: number;
}

export interface Config {
  http: { host: string; port: number };
  store: {
    kind: 'sqlite' | 'redis';
    sqlite: { path: string; durability: Durability; cache_mb: number };
    /** Shared store for several replicas (store.kind: redis). */
    redis: { url: string; key_prefix: string; password?: string; tls: boolean; lease_ttl: number };
    /** Most events one group commit takes. */
    max_batch: number;
    /** Events waiting for the writer beyond which pushes get 503 and /readyz fails. */
    max_pending: number;
  };
  limits: {
    max_body_bytes: number;
    max_jobs: number;
    max_events_per_push: number;
    max_job_name_length: number;
    max_labels: number;
    max_label_name_length: number;
    max_label_value_length: number;
    max_metadata_bytes: number;
    /** Nesting depth of an event's metadata (objects and arrays). */
    max_metadata_depth: number;
    max_error_message_length: number;
    max_future_skew: number;
    max_event_age: number;
  };
  auth: { write_tokens: string[]; read_tokens: string[]; admin_tokens: string[] };
  /** `jobs`: a job idle this long (no event, no unfinished run) is deleted by the sweep, history and all; absent: never. */
  retention: { events: number; runs: number; schedule: string; idle_job_ttl: number; jobs?: number };
  jobs: { defaults: JobExpectations; overrides: Record<string, Partial<JobExpectations>> };
  /** The clock as an event source: stuck, timeouts, crashed batches, missed schedules, baselines. */
  detectors: {
    enabled: boolean;
    /** Time between sweeps, ms. */
    interval: number;
    /** How far back a (re)started agent re-checks schedules for misses, ms. */
    schedule_lookback: number;
    /** Successful runs per job the learned baseline looks at (N). */
    baseline_runs: number;
    /** Fewer successful runs than this: no baseline. */
    baseline_min_samples: number;
    /** A success shorter than this fraction of the learned p50 is flagged too_short; 0 = off. */
    too_short_factor: number;
    /** The clock finishes a parent run once every child batch is terminal. */
    finish_parent: boolean;
    /** `any`: the parent fails if any child failed/crashed/timed out; `all`: only if every child did. */
    parent_fails_on: 'any' | 'all';
  };
  log: {
    level: LogLevel;
    /** Log bytes held for a stdout reader that is not keeping up; past this, lines are dropped (and counted). */
    max_backlog_bytes: number;
  };
  pushgateway: {
    /** Serve the Pushgateway API (/metrics/job/..., /api/v1/metrics, /api/v1/admin/wipe). */
    enabled: boolean;
    /** Default time to live of a pushed group after its last push, ms; 0 = forever (Pushgateway behaviour). */
    group_ttl: number;
    /** Per-job TTL (ms) overriding group_ttl, by the `job` grouping label. */
    job_ttl: Record<string, number>;
    /** Derive run events from pushed batch-job metrics (start/end/success times, progress, failure flags). */
    lifecycle_bridge: boolean;
  };
  ping: {
    /** Longest POST body kept as the run's log excerpt; longer bodies are truncated with a marker. */
    max_log_bytes: number;
  };
  /** Spark clusters the poller asks about their applications. */
  spark: SparkConfig;
  kafka: KafkaConfig;
}

export type SaslMechanism = 'none' | 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** The Kafka consumer (src/sources/kafka): off while `brokers` is empty. Durations in ms. */
export interface KafkaConfig {
  brokers: string[];
  topic: string;
  group_id: string;
  client_id: string;
  /** Where a consumer group with no committed offset starts: the oldest message, or only new ones. */
  from_beginning: boolean;
  ssl: { enabled: boolean; ca_file?: string; cert_file?: string; key_file?: string; reject_unauthorized: boolean };
  sasl: { mechanism: SaslMechanism; username: string; password: string };
  /** Poison messages are copied here (with the reason in headers) before being skipped. */
  dead_letter_topic?: string;
  max_message_bytes: number;
  /** job_name of a message: this field of the message if present, else `default`, else the topic. */
  job_name: { field: string; default?: string };
  partitions_consumed_concurrently: number;
  /** Messages of a fetched batch decoded and committed together; the next range follows once they are durable. */
  ingest_chunk: number;
  /** A member silent this long is dropped from the group (its partitions move to others). */
  session_timeout: number;
  /** How often consumer lag is refreshed from the brokers' offsets (besides after every batch). */
  lag_interval: number;
  /** Reconnect backoff while the brokers are unreachable: doubles from `initial` up to `max`. */
  retry: { initial: number; max: number };
}

const readExpectations = (r: ConfigReader, prefix: string, base?: JobExpectations): Partial<JobExpectations> => {
  const out: Partial<JobExpectations> = {};
  const d = (key: keyof JobExpectations, def: number | undefined): void => {
    const v = def === undefined ? r.optionalDuration(`${prefix}.${key}`) : r.duration(`${prefix}.${key}`, def);
    if (v !== undefined) (out as Record<string, unknown>)[key] = v;
  };
  d('stuck_after', base ? undefined : 10 * 60_000);
  d('submitting_timeout', base ? undefined : 5 * 60_000);
  d('max_duration', undefined);
  d('crash_after', base ? undefined : 10 * 60_000);
  d('min_duration', undefined);
  d('max_age', undefined);
  d('grace', base ? undefined : 5 * 60_000);
  d('late_event_window', base ? undefined : 60_000);
  const action = r.optionalString(`${prefix}.max_duration_action`);
  if (action !== undefined) {
    if (action === 'timeout' || action === 'flag') out.max_duration_action = action;
    else r.issues.push({ path: `${prefix}.max_duration_action`, message: `expected one of timeout, flag, got "${action}"` });
  } else if (!base) out.max_duration_action = 'timeout';
  const schedule = r.optionalString(`${prefix}.schedule`);
  if (schedule !== undefined) out.schedule = schedule;
  const tz = r.optionalString(`${prefix}.timezone`);
  if (tz !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      out.timezone = tz;
    } catch {
      r.issues.push({ path: `${prefix}.timezone`, message: `expected an IANA time zone like Europe/Berlin, got "${tz}"` });
    }
  } else if (!base) out.timezone = 'UTC';
  return out;
};

export function parseConfig(raw: unknown): Config {
  if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError([{ path: '(root)', message: 'expected a YAML map of settings' }]);
  }
  const r = new ConfigReader((raw ?? {}) as Record<string, unknown>);
  const defaults = readExpectations(r, 'jobs.defaults') as JobExpectations;
  const overrides: Record<string, Partial<JobExpectations>> = {};
  for (const name of r.keys('jobs.overrides')) {
    // `x: 5` is no override: "expected a map" (keys() says so) rather than an empty one.
    r.keys(`jobs.overrides.${name}`);
    overrides[name] = readExpectations(r, `jobs.overrides.${name}`, defaults);
  }

  const config: Config = {
    http: {
      host: r.string('http.host', '0.0.0.0', { nonEmpty: true }),
      port: r.int('http.port', 9469, { min: 0, max: 65535 }),
    },
    store: {
      kind: r.oneOf('store.kind', 'sqlite', ['sqlite', 'redis'] as const),
      sqlite: {
        path: r.string('store.sqlite.path', './data/jobpulse.db', { nonEmpty: true }),
        durability: r.oneOf('store.sqlite.durability', 'process', ['process', 'power'] as const),
        cache_mb: r.int('store.sqlite.cache_mb', 2, { min: 1, max: 65_536 }),
      },
      redis: {
        url: r.string('store.redis.url', 'redis://127.0.0.1:6379', { nonEmpty: true }),
        key_prefix: r.string('store.redis.key_prefix', 'jobpulse:'),
        ...(r.optionalString('store.redis.password') !== undefined ? { password: r.optionalString('store.redis.password') as string } : {}),
        tls: r.bool('store.redis.tls', false),
        lease_ttl: r.duration('store.redis.lease_ttl', 15_000, { min: 1000 }),
      },
      max_batch: r.int('store.max_batch', 4096, { min: 1, max: 100_000 }),
      max_pending: r.int('store.max_pending', 200_000, { min: 1 }),
    },
    limits: {
      max_body_bytes: r.int('limits.max_body_bytes', 1024 * 1024, { min: 1024 }),
      max_jobs: r.int('limits.max_jobs', 100_000, { min: 1 }),
      max_events_per_push: r.int('limits.max_events_per_push', 10_000, { min: 1 }),
      max_job_name_length: r.int('limits.max_job_name_length', 200, { min: 1, max: 10_000 }),
      max_labels: r.int('limits.max_labels', 32, { min: 0 }),
      max_label_name_length: r.int('limits.max_label_name_length', 100, { min: 1 }),
      max_label_value_length: r.int('limits.max_label_value_length', 1024, { min: 1 }),
      max_metadata_bytes: r.int('limits.max_metadata_bytes', 64 * 1024, { min: 0 }),
      max_metadata_depth: r.int('limits.max_metadata_depth', 32, { min: 1, max: 1000 }),
      max_error_message_length: r.int('limits.max_error_message_length', 8192, { min: 1 }),
      max_future_skew: r.duration('limits.max_future_skew', 5 * 60_000),
      max_event_age: r.duration('limits.max_event_age', 7 * 86_400_000),
    },
    auth: {
      write_tokens: r.strings('auth.write_tokens', []),
      read_tokens: r.strings('auth.read_tokens', []),
      admin_tokens: r.strings('auth.admin_tokens', []),
    },
    retention: {
      events: r.duration('retention.events', 30 * 86_400_000, { min: 60_000 }),
      runs: r.duration('retention.runs', 90 * 86_400_000, { min: 60_000 }),
      schedule: r.string('retention.schedule', '17 * * * *', { nonEmpty: true }),
      idle_job_ttl: r.duration('retention.idle_job_ttl', 7 * 86_400_000, { min: 1000 }),
    },
    jobs: { defaults, overrides },
    detectors: {
      enabled: r.bool('detectors.enabled', true),
      interval: r.duration('detectors.interval', 30_000, { min: 100 }),
      schedule_lookback: r.duration('detectors.schedule_lookback', 86_400_000, { min: 60_000 }),
      baseline_runs: r.int('detectors.baseline_runs', 50, { min: 1, max: 10_000 }),
      baseline_min_samples: r.int('detectors.baseline_min_samples', 5, { min: 1, max: 10_000 }),
      too_short_factor: r.number('detectors.too_short_factor', 0, { min: 0, max: 1 }),
      finish_parent: r.bool('detectors.finish_parent', true),
      parent_fails_on: r.oneOf('detectors.parent_fails_on', 'any', ['any', 'all'] as const),
    },
    log: { level: r.oneOf('log.level', 'info', LOG_LEVELS), max_backlog_bytes: r.int('log.max_backlog_bytes', 8 * 1024 * 1024, { min: 1024 }) },
    pushgateway: {
      enabled: r.bool('pushgateway.enabled', true),
      group_ttl: r.duration('pushgateway.group_ttl', 0),
      job_ttl: Object.fromEntries(r.keys('pushgateway.job_ttl').map((k) => [k, r.duration(`pushgateway.job_ttl.${k}`, 0)])),
      lifecycle_bridge: r.bool('pushgateway.lifecycle_bridge', true),
    },
    ping: { max_log_bytes: r.int('ping.max_log_bytes', 10_000, { min: 0, max: 1_000_000 }) },
    spark: parseSparkConfig(r.raw('spark.clusters'), r.issues),
    kafka: readKafka(r),
  };
  const retentionJobs = r.optionalDuration('retention.jobs');
  if (retentionJobs !== undefined) {
    if (retentionJobs < config.retention.idle_job_ttl)
      r.issues.push({ path: 'retention.jobs', message: `expected at least retention.idle_job_ttl (a job is deleted only after it left /metrics), got ${retentionJobs} ms` });
    config.retention.jobs = retentionJobs;
  }
  if (!cron.validate(config.retention.schedule))
    r.issues.push({ path: 'retention.schedule', message: `expected a cron expression like "17 * * * *", got ${JSON.stringify(config.retention.schedule)}` });
  for (const [path, exp] of [['jobs.defaults', config.jobs.defaults], ...Object.entries(config.jobs.overrides).map(([n, o]) => [`jobs.overrides.${n}`, o] as const)] as const) {
    if (exp.schedule === undefined) continue;
    // cron-parser also takes 4 fields and reads them with a seconds field first: "0 2 * *"
    // became every minute of 00:00–00:59 on the 2nd. Standard 5-field cron, 6 fields with
    // seconds first (the alerting e2e test runs a missed schedule in seconds) or a named
    // macro are accepted; anything else is refused rather than read as something else.
    const fields = exp.schedule.trim().split(/\s+/);
    if (!(fields.length === 5 || fields.length === 6 || (fields.length === 1 && CRON_MACROS.has(fields[0] as string)))) {
      r.issues.push({
        path: `${path}.schedule`,
        message: `expected a cron expression of 5 fields (minute hour day-of-month month day-of-week, or 6 with seconds first) like "0 2 * * *", got ${JSON.stringify(exp.schedule)} (${fields.length} field${fields.length === 1 ? '' : 's'})`,
      });
      continue;
    }
    try {
      CronExpressionParser.parse(exp.schedule, { tz: exp.timezone ?? config.jobs.defaults.timezone });
    } catch (err) {
      r.issues.push({ path: `${path}.schedule`, message: `expected a cron expression like "0 2 * * *", got ${JSON.stringify(exp.schedule)}: ${(err as Error).message}` });
    }
  }
  const issues = r.finish();
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

/** Standard cron macros, one field each; cron-parser's @minutely / @secondly are not cron and stay refused. */
const CRON_MACROS: ReadonlySet<string> = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

function readKafka(r: ConfigReader): KafkaConfig {
  const opt = (path: string): string | undefined => r.optionalString(path);
  const ssl: KafkaConfig['ssl'] = {
    enabled: r.bool('kafka.ssl.enabled', false),
    reject_unauthorized: r.bool('kafka.ssl.reject_unauthorized', true),
  };
  for (const k of ['ca_file', 'cert_file', 'key_file'] as const) {
    const v = opt(`kafka.ssl.${k}`);
    if (v !== undefined) ssl[k] = v;
  }
  const sasl: KafkaConfig['sasl'] = {
    mechanism: r.oneOf('kafka.sasl.mechanism', 'none', ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const),
    username: r.string('kafka.sasl.username', ''),
    password: r.string('kafka.sasl.password', ''),
  };
  if (sasl.mechanism !== 'none') {
    for (const k of ['username', 'password'] as const)
      if (sasl[k] === '') r.issues.push({ path: `kafka.sasl.${k}`, message: `is required with kafka.sasl.mechanism ${sasl.mechanism}` });
  } else {
    // Credentials with no mechanism are a half-done setup: say so instead of connecting without them.
    for (const k of ['username', 'password'] as const)
      if (sasl[k] !== '') r.issues.push({ path: `kafka.sasl.${k}`, message: 'is set but kafka.sasl.mechanism is none (set plain, scram-sha-256 or scram-sha-512)' });
  }
  if (!ssl.enabled) {
    for (const k of ['ca_file', 'cert_file', 'key_file'] as const)
      if (ssl[k] !== undefined) r.issues.push({ path: `kafka.ssl.${k}`, message: 'is set but kafka.ssl.enabled is false' });
  } else if ((ssl.cert_file === undefined) !== (ssl.key_file === undefined)) {
    const missing = ssl.cert_file === undefined ? 'cert_file' : 'key_file';
    const given = missing === 'cert_file' ? 'key_file' : 'cert_file';
    r.issues.push({ path: `kafka.ssl.${missing}`, message: `is required with kafka.ssl.${given} (a client certificate needs both)` });
  }
  const kafka: KafkaConfig = {
    brokers: r.strings('kafka.brokers', []),
    topic: r.string('kafka.topic', 'transformation-job-status', { nonEmpty: true }),
    group_id: r.string('kafka.group_id', 'transformation-engine-job-monitor', { nonEmpty: true }),
    client_id: r.string('kafka.client_id', 'jobpulse', { nonEmpty: true }),
    from_beginning: r.bool('kafka.from_beginning', false),
    ssl,
    sasl,
    max_message_bytes: r.int('kafka.max_message_bytes', 1024 * 1024, { min: 1 }),
    job_name: { field: r.string('kafka.job_name.field', 'jobName', { nonEmpty: true }) },
    partitions_consumed_concurrently: r.int('kafka.partitions_consumed_concurrently', 4, { min: 1, max: 1000 }),
    ingest_chunk: r.int('kafka.ingest_chunk', 500, { min: 1, max: 100_000 }),
    session_timeout: r.duration('kafka.session_timeout', 30_000, { min: 1000 }),
    lag_interval: r.duration('kafka.lag_interval', 15_000, { min: 100 }),
    retry: {
      initial: r.duration('kafka.retry.initial', 1000, { min: 10 }),
      max: r.duration('kafka.retry.max', 30_000, { min: 10 }),
    },
  };
  const dlq = opt('kafka.dead_letter_topic');
  if (dlq !== undefined) kafka.dead_letter_topic = dlq;
  const jobDefault = opt('kafka.job_name.default');
  if (jobDefault !== undefined) kafka.job_name.default = jobDefault;
  if (dlq !== undefined && dlq === kafka.topic)
    r.issues.push({ path: 'kafka.dead_letter_topic', message: 'must differ from kafka.topic (poison messages would loop)' });
  return kafka;
}

/** The expectations that apply to one job: its override over the defaults. */
export const expectationsFor = (config: Config, jobName: string): JobExpectations => ({
  ...config.jobs.defaults,
  ...config.jobs.overrides[jobName],
});
