/**
 * The Kafka source: a kafkajs consumer group member that turns messages into events.
 *
 * Delivery is at-least-once, applied once:
 * - Offsets are never auto-committed. For each fetched batch the source decodes every
 *   message, awaits `ingest(drafts)` (which resolves only after the events are durable),
 *   then resolves and commits the batch's last offset. A crash or a rebalance before that
 *   commit re-delivers the batch.
 * - Every event carries an event_id (the message's own, or `kafka:<topic>:<partition>:<offset>`),
 *   so ingest drops the re-delivered copies: nothing is counted twice.
 * - A poison message (not JSON, wrong shape, unknown status, oversize) is counted by reason,
 *   logged once with topic/partition/offset and a truncated excerpt, copied to the
 *   dead-letter topic when one is configured, and skipped: its offset is committed with the
 *   rest of the batch, so the partition keeps moving.
 * - If ingest refuses (writer saturated, store down) the batch throws: kafkajs retries it
 *   and, past its retries, restarts the consumer from the last committed offset.
 *
 * Connection: `start()` returns at once; a background loop connects, subscribes and runs,
 * and on failure retries with doubling backoff (kafka.retry.initial → kafka.retry.max),
 * so an absent broker never stops the agent from serving. `health()` (→ /readyz) and
 * `jobpulse_kafka_connected` report whether the consumer has joined its group.
 *
 * `stop()` stops the consumer (kafkajs waits for the batch in flight, which commits what
 * is durable) and leaves the group; the agent drains the writer only after sources stop.
 */
import { readFileSync } from 'node:fs';
import {
  Kafka,
  logLevel,
  Partitioners,
  type Consumer,
  type EachBatchPayload,
  type KafkaConfig as KafkajsConfig,
  type KafkaMessage,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import { Counter, Gauge } from 'prom-client';
import type { Config } from '../../config/schema.js';
import { TooManyJobsError } from '../../domain/errors.js';
import type { EventDraft } from '../../domain/job-event.js';
import { truncate } from '../../ingest/validate.js';
import type { IngestFn } from '../../ingest/ingest.js';
import type { SelfMetrics } from '../../metrics/self-metrics.js';
import { KAFKA_METRICS as K } from '../../metrics/names.js';
import type { Clock } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/logger.js';
import type { Source, SourceHealth } from '../source.js';
import { decodeMessage, type PoisonReason } from './decode-message.js';

export interface KafkaSourceDeps {
  ingest: IngestFn;
  config: Config;
  logger: Logger;
  clock: Clock;
  selfMetrics: SelfMetrics;
}

const EXCERPT_CHARS = 200;
/** Poison positions already reported: a re-delivered batch is not logged or dead-lettered again. */
const REPORTED_MAX = 10_000;

export function createKafkaSource(deps: KafkaSourceDeps): Source {
  const { ingest, logger, clock } = deps;
  const cfg = deps.config.kafka;
  const limits = deps.config.limits;

  const messages = new Counter({ name: K.messages.name, help: K.messages.help, labelNames: K.messages.labels, registers: [] });
  const lag = new Gauge({ name: K.lag.name, help: K.lag.help, labelNames: K.lag.labels, registers: [] });
  const connectedGauge = new Gauge({ name: K.connected.name, help: K.connected.help, registers: [] });
  const deadLetters = new Counter({ name: K.deadLetters.name, help: K.deadLetters.help, labelNames: K.deadLetters.labels, registers: [] });
  for (const metric of [messages, lag, connectedGauge, deadLetters]) deps.selfMetrics.register(metric);
  connectedGauge.set(0);

  const kafka = new Kafka(kafkajsConfig(deps.config, logger));
  let consumer: Consumer | undefined;
  let producer: Producer | undefined;
  let joined = false;
  let lastError: string | undefined = 'not connected yet';
  let stopped = false;
  let stopping: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;
  const reported = new Set<string>();
  let signalStop: (() => void) | undefined;
  const stopSignal = new Promise<boolean>((resolve) => (signalStop = () => resolve(true)));

  const setJoined = (v: boolean, error?: string): void => {
    joined = v;
    connectedGauge.set(v ? 1 : 0);
    if (error !== undefined) lastError = error;
    if (v) lastError = undefined;
  };

  /** Waits `ms` unless stop() cuts it short. */
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  async function runLoop(): Promise<void> {
    let delay = cfg.retry.initial;
    let attempt = 0;
    while (!stopped) {
      attempt += 1;
      const c = kafka.consumer({
        groupId: cfg.group_id,
        allowAutoTopicCreation: true,
        sessionTimeout: cfg.session_timeout,
        heartbeatInterval: Math.max(100, Math.min(3000, Math.floor(cfg.session_timeout / 3))),
        // The long poll bounds how long stop() waits for the fetch in flight.
        maxWaitTimeInMs: 1000,
        // Bigger fetches mean fewer ingest calls and offset commits per message.
        maxBytesPerPartition: 4 * 1024 * 1024,
        maxBytes: 32 * 1024 * 1024,
        retry: { initialRetryTime: cfg.retry.initial, maxRetryTime: cfg.retry.max, retries: 5 },
      });
      consumer = c;
      let crashed: ((restart: boolean) => void) | undefined;
      const crash = new Promise<boolean>((resolve) => (crashed = resolve));
      c.on(c.events.GROUP_JOIN, (e) => {
        setJoined(true);
        lag.reset();
        logger.info('kafka consumer joined group', { group_id: cfg.group_id, assignment: e.payload.memberAssignment });
      });
      c.on(c.events.CRASH, (e) => {
        const message = (e.payload.error as Error)?.message ?? String(e.payload.error);
        setJoined(false, message);
        logger.warn('kafka consumer crashed', { err: message, restart: e.payload.restart });
        if (!e.payload.restart) crashed?.(false);
      });
      c.on(c.events.DISCONNECT, () => {
        if (joined) setJoined(false, 'disconnected');
      });
      try {
        if (cfg.dead_letter_topic && !producer) {
          const p = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
          await p.connect();
          producer = p;
        }
        await c.connect();
        await c.subscribe({ topic: cfg.topic, fromBeginning: cfg.from_beginning });
        await c.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: cfg.partitions_consumed_concurrently,
          eachBatch: handleBatch,
        });
        attempt = 0;
        delay = cfg.retry.initial;
        // kafkajs restarts itself after retriable failures; a crash it will not restart
        // from (or stop()) ends this consumer and the loop builds a new one.
        await Promise.race([crash, stopSignal]);
      } catch (err) {
        const message = (err as Error)?.message ?? String(err);
        setJoined(false, message);
        if (!stopped)
          logger.warn('kafka unreachable; retrying', { err: message, attempt, retry_in_ms: delay, brokers: cfg.brokers });
      }
      if (stopped) return;
      await c.disconnect().catch(() => undefined);
      await pause(delay);
      delay = Math.min(delay * 2, cfg.retry.max);
    }
  }

  async function handleBatch(p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    if (!p.isRunning() || p.isStale() || batch.messages.length === 0) return;
    const now = clock.now();
    const drafts: EventDraft[] = [];
    for (const m of batch.messages) {
      const decoded = decodeMessage(
        { topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key, value: m.value, timestamp: Number(m.timestamp) },
        {
          limits,
          maxMessageBytes: cfg.max_message_bytes,
          jobNameField: cfg.job_name.field,
          ...(cfg.job_name.default !== undefined ? { jobNameDefault: cfg.job_name.default } : {}),
          now,
        },
      );
      if (decoded.ok) drafts.push(decoded.draft);
      else await reportPoison(batch.topic, batch.partition, m, decoded.reason, decoded.detail);
    }
    if (drafts.length > 0) await ingestAll(drafts, batch.topic, batch.partition);

    const last = (batch.messages[batch.messages.length - 1] as KafkaMessage).offset;
    p.resolveOffset(last);
    await p.commitOffsetsIfNecessary(p.uncommittedOffsets());
    lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(batch.highWatermark) - Number(last) - 1));
    await p.heartbeat();
  }

  /** Ingest the batch in one request; if a new job over limits.max_jobs refuses it, one by one. */
  async function ingestAll(drafts: EventDraft[], topic: string, partition: number): Promise<void> {
    try {
      await ingest(drafts);
      messages.inc({ result: 'ok' }, drafts.length);
      return;
    } catch (err) {
      if (!(err instanceof TooManyJobsError)) throw err;
    }
    for (const d of drafts) {
      try {
        await ingest([d]);
        messages.inc({ result: 'ok' });
      } catch (err) {
        if (!(err instanceof TooManyJobsError)) throw err;
        messages.inc({ result: 'refused' });
        logger.warn('kafka message refused: job limit reached', { topic, partition, event_id: d.event_id, job_name: d.job_name, err: err.message });
      }
    }
  }

  async function reportPoison(topic: string, partition: number, m: KafkaMessage, reason: PoisonReason, detail: string): Promise<void> {
    const at = `${topic}:${partition}:${m.offset}`;
    if (reported.has(at)) return;
    if (reported.size >= REPORTED_MAX) reported.clear();
    reported.add(at);
    messages.inc({ result: reason });
    const excerpt = m.value ? truncate(m.value.toString('utf8', 0, Math.min(m.value.length, EXCERPT_CHARS * 4)), EXCERPT_CHARS) : null;
    logger.warn('kafka message skipped', { topic, partition, offset: m.offset, reason, detail: truncate(detail, 500), excerpt });
    if (!cfg.dead_letter_topic || !producer) return;
    try {
      await producer.send({
        topic: cfg.dead_letter_topic,
        messages: [
          {
            key: m.key,
            value: m.value,
            headers: {
              ...m.headers,
              'x-jobpulse-reason': reason,
              'x-jobpulse-detail': truncate(detail, 500),
              'x-jobpulse-origin': `${topic}/${partition}/${m.offset}`,
            },
          },
        ],
      });
      deadLetters.inc({ result: 'ok' });
    } catch (err) {
      // A broken dead-letter topic must not stall the partition: the message is logged above.
      deadLetters.inc({ result: 'failed' });
      logger.error('kafka dead-letter copy failed', { topic: cfg.dead_letter_topic, origin: at, err: (err as Error).message });
    }
  }

  return {
    name: 'kafka',
    async start() {
      loop ??= runLoop();
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        signalStop?.();
        wake?.();
        try {
          // Waits for the batch in flight (it commits what is durable), then leaves the group.
          await consumer?.disconnect();
        } catch (err) {
          logger.warn('kafka consumer disconnect failed', { err: (err as Error).message });
        }
        await loop?.catch(() => undefined);
        try {
          await producer?.disconnect();
        } catch (err) {
          logger.warn('kafka producer disconnect failed', { err: (err as Error).message });
        }
        setJoined(false, 'stopped');
      })();
      return stopping;
    },
    health(): SourceHealth {
      return joined
        ? { ok: true }
        : { ok: false, detail: `kafka consumer not in group ${cfg.group_id} (brokers ${cfg.brokers.join(',')}): ${lastError ?? 'connecting'}` };
    },
  };
}

function kafkajsConfig(config: Config, logger: Logger): KafkajsConfig {
  const k = config.kafka;
  const out: KafkajsConfig = {
    clientId: k.client_id,
    brokers: k.brokers,
    retry: { initialRetryTime: Math.min(k.retry.initial, 300), maxRetryTime: k.retry.max, retries: 3 },
    // kafkajs reports every connection failure at error level; the source logs the state
    // changes that matter, so kafkajs' own lines go to our logger at debug.
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      const { message, timestamp: _t, logger: _l, ...extra } = entry.log;
      logger.debug(`kafkajs: ${message}`, { namespace: entry.namespace, ...extra });
    },
  };
  if (k.ssl.enabled) {
    const read = (f: string | undefined): string | undefined => (f ? readFileSync(f, 'utf8') : undefined);
    out.ssl = {
      rejectUnauthorized: k.ssl.reject_unauthorized,
      ...(k.ssl.ca_file ? { ca: [read(k.ssl.ca_file) as string] } : {}),
      ...(k.ssl.cert_file ? { cert: read(k.ssl.cert_file) as string } : {}),
      ...(k.ssl.key_file ? { key: read(k.ssl.key_file) as string } : {}),
    };
  }
  if (k.sasl.mechanism !== 'none') {
    out.sasl = { mechanism: k.sasl.mechanism, username: k.sasl.username, password: k.sasl.password } as SASLOptions;
  }
  return out;
}
