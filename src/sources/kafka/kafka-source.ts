/**
 * The Kafka source: a kafkajs consumer group member that turns messages into events.
 *
 * Delivery is at-least-once, applied once:
 * - Offsets are never auto-committed. A fetched batch is decoded and ingested in ranges of
 *   kafka.ingest_chunk messages; after each range `ingest(drafts)` has resolved (the events
 *   are durable) its last offset is resolved, and committed when MID_BATCH_COMMIT_MS has
 *   passed since the partition's last commit, and always at the end of the batch. A crash
 *   or a rebalance re-delivers what was not committed: at most about a second's work plus
 *   one range of a partition.
 * - Every event carries an event_id (the message's own, or `kafka:<topic>:<partition>:<offset>:<timestamp>`),
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
 * `jobpulse_kafka_connected` report whether the consumer has joined its group and heard
 * from the brokers (heartbeat, fetch, offset commit) within session_timeout.
 *
 * Consumer lag (`jobpulse_kafka_consumer_lag{topic,partition}`, this member's partitions
 * only): set after every batch from that fetch's high watermark, and refreshed from the
 * brokers' offsets after each group join and every `kafka.lag_interval` (default 15 s), so an
 * idle partition reads 0 and a stalled one keeps growing. At most lag_interval old.
 *
 * `stop()` stops the consumer (kafkajs waits for the batch in flight, which commits what
 * is durable) and leaves the group; the agent drains the writer only after sources stop.
 */
import { readFileSync } from 'node:fs';
import { Kafka, Partitioners, type Admin, type Consumer, type EachBatchPayload, type KafkaMessage, type Producer } from 'kafkajs';
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
import { kafkajsOptions } from './client-options.js';
import { partitionLag } from './consumer-lag.js';
import { decodeMessage, type PoisonReason } from './decode-message.js';
import { memberLiveness } from './group-liveness.js';

export interface KafkaSourceDeps {
  ingest: IngestFn;
  config: Config;
  logger: Logger;
  clock: Clock;
  selfMetrics: SelfMetrics;
}

const EXCERPT_CHARS = 200;
/** Within a fetched batch, a partition's offsets are committed after a range once this long has passed since its last commit. */
export const MID_BATCH_COMMIT_MS = 1000;
/** Poison positions already reported: a re-delivered batch is not logged or dead-lettered again. */
const REPORTED_MAX = 10_000;

export function createKafkaSource(deps: KafkaSourceDeps): Source {
  const { ingest, logger, clock } = deps;
  const cfg = deps.config.kafka;
  const limits = deps.config.limits;

  const messages = new Counter({ name: K.messages.name, help: K.messages.help, labelNames: K.messages.labels, registers: [] });
  const lag = new Gauge({ name: K.lag.name, help: K.lag.help, labelNames: K.lag.labels, registers: [] });
  // Read at scrape time: silence from the brokers turns it to 0 without any event (group-liveness.ts).
  const connectedGauge = new Gauge({
    name: K.connected.name,
    help: K.connected.help,
    registers: [],
    collect() {
      this.set(liveness().ok ? 1 : 0);
    },
  });
  const deadLetters = new Counter({ name: K.deadLetters.name, help: K.deadLetters.help, labelNames: K.deadLetters.labels, registers: [] });
  for (const metric of [messages, lag, connectedGauge, deadLetters]) deps.selfMetrics.register(metric);

  const decodeBase = {
    limits,
    maxMessageBytes: cfg.max_message_bytes,
    jobNameField: cfg.job_name.field,
    ...(cfg.job_name.default !== undefined ? { jobNameDefault: cfg.job_name.default } : {}),
  };
  const kafka = new Kafka(kafkajsOptions(deps.config, { readFile: (f) => readFileSync(f, 'utf8'), logger }));
  if (cfg.sasl.mechanism === 'plain' && !cfg.ssl.enabled)
    logger.warn('kafka SASL PLAIN without TLS: the password crosses the network in clear (set kafka.ssl.enabled)', { brokers: cfg.brokers });
  let consumer: Consumer | undefined;
  let admin: Admin | undefined;
  /** This member's partitions of cfg.topic, from its last group join. */
  let assigned: number[] = [];
  /** Per partition: the offset after the last batch made durable and committed by this member. */
  const positions = new Map<number, number>();
  /** Per partition: clock time of this member's last offset commit. */
  const lastCommit = new Map<number, number>();
  let lagTimer: NodeJS.Timeout | undefined;
  let refreshing: Promise<void> | undefined;
  let producer: Producer | undefined;
  let joined = false;
  /** Clock time of the last answer from the brokers to this member. */
  let lastContact = 0;
  const contact = (): void => {
    lastContact = clock.now();
  };
  const liveness = () => memberLiveness({ joined, lastContact, now: clock.now(), sessionTimeoutMs: cfg.session_timeout });
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
    if (v) contact();
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
        // Partitions moved to other members are theirs to report; ours start from the brokers' offsets.
        lag.reset();
        positions.clear();
        assigned = [...(e.payload.memberAssignment[cfg.topic] ?? [])];
        void refreshLag();
        logger.info('kafka consumer joined group', { group_id: cfg.group_id, assignment: e.payload.memberAssignment });
      });
      for (const answered of [c.events.HEARTBEAT, c.events.FETCH, c.events.COMMIT_OFFSETS]) c.on(answered, contact);
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
    const all = batch.messages;
    if (!p.isRunning() || p.isStale() || all.length === 0) return;
    const now = clock.now();
    const chunk = cfg.ingest_chunk;
    let done = -1;
    for (let from = 0; from < all.length; from += chunk) {
      if (from > 0 && (!p.isRunning() || p.isStale())) break;
      const to = Math.min(all.length, from + chunk);
      await ingestRange(batch, from, to, now);
      done = to - 1;
      p.resolveOffset((all[done] as KafkaMessage).offset);
      if (to < all.length) {
        // Committed only at the batch's end, a crash re-read up to a whole fetch (4 MiB a
        // partition); committed after every range, each 500 messages would wait for an
        // OffsetCommit round trip. Once a second bounds the re-read at about a second's work.
        if (clock.now() - (lastCommit.get(batch.partition) ?? now) >= MID_BATCH_COMMIT_MS) await commit(p, done);
        await p.heartbeat();
      }
    }
    if (done < 0) return;
    await commit(p, done);
    await p.heartbeat();
  }

  /** Commits what is resolved (durable) and sets the partition's lag from the fetch's high watermark. */
  async function commit(p: EachBatchPayload, done: number): Promise<void> {
    const { batch } = p;
    const last = Number((batch.messages[done] as KafkaMessage).offset);
    await p.commitOffsetsIfNecessary(p.uncommittedOffsets());
    lastCommit.set(batch.partition, clock.now());
    positions.set(batch.partition, last + 1);
    // Exact as of this fetch.
    lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(batch.highWatermark) - last - 1));
  }

  /**
   * Decodes messages [from, to) of the batch and awaits their events' commit. A fetch can
   * hold tens of thousands of messages per partition; as one ingest request they were one
   * transaction reduced in one go (the writer idle meanwhile) with every draft alive
   * throughout. `ingest()` alone on the lifecycle mix: 1.59 s per 100k in requests of 5,000,
   * 1.34 in 1,250, 1.26 in 250 (medians of 4 alternating runs).
   */
  async function ingestRange(batch: EachBatchPayload['batch'], from: number, to: number, now: number): Promise<void> {
    const decoded = decodeBatch(batch, from, to, now);
    for (const x of decoded.poison) await reportPoison(batch.topic, batch.partition, x.m, x.reason, x.detail);
    // Only the ingest request holds the drafts while they commit: kept here too, they would
    // outlive young-generation GCs with the batch (a second copy's worth of old-generation garbage).
    let drafts: EventDraft[] | undefined = decoded.drafts;
    decoded.drafts = [];
    const n = drafts.length;
    if (n === 0) return;
    const durable = ingest(drafts, { results: false });
    drafts = undefined;
    try {
      await durable;
      messages.inc({ result: 'ok' }, n);
    } catch (err) {
      if (!(err instanceof TooManyJobsError)) throw err;
      await ingestOneByOne(decodeBatch(batch, from, to, now).drafts, batch.topic, batch.partition);
    }
  }

  interface Poison {
    m: KafkaMessage;
    reason: PoisonReason;
    detail: string;
  }
  function decodeBatch(batch: EachBatchPayload['batch'], from: number, to: number, now: number): { drafts: EventDraft[]; poison: Poison[] } {
    // One options object per range, not per message.
    const opts = { ...decodeBase, now };
    const drafts: EventDraft[] = [];
    const poison: Poison[] = [];
    for (let i = from; i < to; i++) {
      const m = batch.messages[i] as KafkaMessage;
      const d = decodeMessage(
        { topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key, value: m.value, timestamp: Number(m.timestamp) },
        opts,
      );
      if (d.ok) drafts.push(d.draft);
      else poison.push({ m, reason: d.reason, detail: d.detail });
    }
    return { drafts, poison };
  }

  /** A batch a new job over limits.max_jobs refused: each message on its own, the refused ones counted and skipped. */
  async function ingestOneByOne(drafts: EventDraft[], topic: string, partition: number): Promise<void> {
    for (const d of drafts) {
      try {
        await ingest([d], { results: false });
        messages.inc({ result: 'ok' });
      } catch (err) {
        if (!(err instanceof TooManyJobsError)) throw err;
        messages.inc({ result: 'refused' });
        logger.warn('kafka message refused: job limit reached', { topic, partition, event_id: d.event_id, job_name: d.job_name, err: err.message });
      }
    }
  }

  /**
   * Lag of every assigned partition from the brokers (high/low watermarks) and the group's
   * committed offsets. kafkajs hands eachBatch only non-empty batches, so without this an
   * idle partition (at the end of the topic) or a stalled consumer would keep its last
   * figure, or none after a rebalance. Runs after each join and every kafka.lag_interval;
   * one at a time; failures are logged at debug and retried at the next tick.
   */
  function refreshLag(): Promise<void> {
    refreshing ??= readLag().finally(() => (refreshing = undefined));
    return refreshing;
  }
  async function readLag(): Promise<void> {
    try {
      if (!joined || stopped || assigned.length === 0) return;
      if (!admin) {
        const a = kafka.admin({ retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 1000 } });
        try {
          await a.connect();
        } catch (err) {
          await a.disconnect().catch(() => undefined);
          throw err;
        }
        admin = a;
      }
      const [highs, groups] = await Promise.all([
        admin.fetchTopicOffsets(cfg.topic),
        admin.fetchOffsets({ groupId: cfg.group_id, topics: [cfg.topic] }),
      ]);
      const committed = new Map((groups[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
      const mine = new Set(assigned);
      for (const h of highs) {
        if (!mine.has(h.partition)) continue;
        const value = partitionLag({
          high: h.high,
          low: h.low,
          committed: committed.get(h.partition) ?? -1,
          position: positions.get(h.partition),
          fromBeginning: cfg.from_beginning,
        });
        lag.set({ topic: cfg.topic, partition: String(h.partition) }, value);
      }
    } catch (err) {
      logger.debug('kafka lag refresh failed', { err: (err as Error).message });
      const a = admin;
      admin = undefined;
      await a?.disconnect().catch(() => undefined);
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
      lagTimer ??= setInterval(() => void refreshLag(), cfg.lag_interval);
      lagTimer.unref();
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(lagTimer);
        signalStop?.();
        wake?.();
        try {
          // Waits for the batch in flight (it commits what is durable), then leaves the group.
          await consumer?.disconnect();
        } catch (err) {
          logger.warn('kafka consumer disconnect failed', { err: (err as Error).message });
        }
        await loop?.catch(() => undefined);
        await refreshing;
        await admin?.disconnect().catch((err: Error) => logger.warn('kafka admin disconnect failed', { err: err.message }));
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
      const live = liveness();
      if (live.ok) return { ok: true };
      if (joined)
        return {
          ok: false,
          detail: `kafka brokers silent for ${Math.round(live.silentMs / 1000)} s, over session_timeout (group ${cfg.group_id}, brokers ${cfg.brokers.join(',')})`,
        };
      return { ok: false, detail: `kafka consumer not in group ${cfg.group_id} (brokers ${cfg.brokers.join(',')}): ${lastError ?? 'connecting'}` };
    },
  };
}
