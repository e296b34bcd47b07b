/**
 * Turns one Kafka message into an EventDraft, or says why it is poison. Pure: no
 * kafkajs types, no I/O, so it is tested with tables.
 *
 * Two formats are accepted on the same topic:
 *
 * 1. The operators' status message (what the transformation engine already publishes):
 *      {"jobId": 123, "status": "Completed", "errorMessage": null,
 *       "generatedFields": "{...}", "rowsProcessed": 1000, "completedAt": "2025-01-01T12:00:00Z"}
 *    `status` maps through STATUS_EVENTS (case-insensitive); `jobId` (else the message key;
 *    an empty jobId is none) is the run_id, integers beyond 2^53 read from the text (integerLiteral); `rowsProcessed` → records_processed; `errorMessage` → error_message;
 *    `generatedFields` (parsed when it is a JSON string) → run metadata `generatedFields`;
 *    `completedAt` (else the broker timestamp) → the event time.
 * 2. The native event JSON of `/push` (an object with `job_name` and `event`), validated by
 *    the same `validateEvent`; `run_id` defaults to the message key.
 *
 * Every event gets an `event_id` so that a redelivered message is applied once: the
 * message's own `event_id` if it has one, else one derived from topic/partition/offset and
 * the message's timestamp (see offsetEventId).
 */
import { createHash } from 'node:crypto';
import type { EventDraft } from '../../domain/job-event.js';
import { truncate, validateEvent, type Limits } from '../../ingest/validate.js';
import { strictUtf8, utf8Text } from '../../runtime/utf8.js';

/** Operators' statuses (lower-cased) → lifecycle events. Documented in README.md. */
export const STATUS_EVENTS: Readonly<Record<string, EventDraft['event']>> = {
  pending: 'queued',
  queued: 'queued',
  running: 'started',
  processing: 'started',
  completed: 'succeeded',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  canceled: 'cancelled',
};

export const POISON_REASONS = ['invalid_json', 'invalid_shape', 'unknown_status', 'oversize'] as const;
export type PoisonReason = (typeof POISON_REASONS)[number];

export interface RawMessage {
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit: kept as the decimal string kafkajs gives. */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Broker timestamp, unix ms. */
  timestamp?: number;
}

export interface DecodeOptions {
  limits: Limits;
  maxMessageBytes: number;
  jobNameField: string;
  jobNameDefault?: string;
  now: number;
}

export type Decoded = { ok: true; draft: EventDraft } | { ok: false; reason: PoisonReason; detail: string };

const ID_MAX = 200;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `kafka:<topic>:<partition>:<offset>:<timestamp>`; hashed when a long topic name would exceed
 * the id limit. The position alone names a message only while the topic lives: a topic
 * deleted and re-created, or a cluster rebuilt or failed over, numbers its messages from 0
 * again, and every new message at an offset already seen was dropped as a duplicate (982 of
 * 1,000 in a probe) for as long as the log keeps the old events. The timestamp is stored with
 * the message, so a redelivery carries the same one; a message without one (-1, pre-0.10
 * format) keeps the position alone.
 */
export function offsetEventId(topic: string, partition: number, offset: string, timestamp?: number): string {
  const at = timestamp !== undefined && Number.isFinite(timestamp) && timestamp >= 0 ? `:${timestamp}` : '';
  const id = `kafka:${topic}:${partition}:${offset}${at}`;
  return id.length <= ID_MAX ? id : `kafka:${createHash('sha256').update(id).digest('hex')}`;
}

const poison = (reason: PoisonReason, detail: string): Decoded => ({ ok: false, reason, detail });

const JSON_SPACE = new Set([' ', '\t', '\n', '\r']);
const PLAIN_INTEGER = /^-?[1-9][0-9]*$/;
const NUMBER_LITERAL = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?/y;

/**
 * The digits of the top-level member `name` of `text` (valid JSON, an object) when its value
 * is written as a plain integer, else undefined: also when the member appears more than once
 * (JSON.parse keeps the last; which one the producer meant is a guess) or is written with a
 * fraction or exponent (`1.2e19` has no digits of its own to take). Node 20 has no
 * JSON.parse source access, hence the scan; it runs only for integers beyond 2^53.
 */
export function integerLiteral(text: string, name: string): string | undefined {
  const found: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth !== 1 || !expectKey) continue;
      expectKey = false;
      // Escapes make "\u006aobId" the same key as "jobId".
      if (JSON.parse(text.slice(start, i + 1)) !== name) continue;
      let j = i + 1;
      while (JSON_SPACE.has(text[j] as string)) j++;
      j++; // the ':'
      while (JSON_SPACE.has(text[j] as string)) j++;
      NUMBER_LITERAL.lastIndex = j;
      found.push(NUMBER_LITERAL.exec(text)?.[0] ?? '');
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return found.length === 1 && PLAIN_INTEGER.test(found[0] as string) ? found[0] : undefined;
}

export function decodeMessage(msg: RawMessage, opts: DecodeOptions): Decoded {
  const value = msg.value;
  if (value === null || value.length === 0) return poison('invalid_shape', 'empty message (tombstone)');
  if (value.length > opts.maxMessageBytes)
    return poison('oversize', `${value.length} bytes, over kafka.max_message_bytes (${opts.maxMessageBytes})`);
  const text = strictUtf8(value);
  if (text === undefined) return poison('invalid_json', 'not valid UTF-8: JSON text must be');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return poison('invalid_json', (err as Error).message);
  }
  if (!isObj(body)) return poison('invalid_shape', 'expected a JSON object');

  // A key that is not text (a serialized number) is no run id; refused below if one is needed.
  const key = msg.key && msg.key.length > 0 ? utf8Text(msg.key) : undefined;
  const fieldName = body[opts.jobNameField];
  const jobName =
    typeof fieldName === 'string' && fieldName !== '' ? fieldName : (opts.jobNameDefault ?? msg.topic);
  // The broker's timestamp is when the producer sent it: closer to the fact than our receive
  // time. Used only inside the accepted skew/age window so a replayed topic is not refused.
  const brokerTime =
    msg.timestamp !== undefined &&
    msg.timestamp <= opts.now + opts.limits.max_future_skew &&
    msg.timestamp >= opts.now - opts.limits.max_event_age
      ? msg.timestamp
      : undefined;

  let event: Record<string, unknown>;
  const statusMessage = 'status' in body && !('event' in body);
  if (statusMessage) {
    const status = body.status;
    if (typeof status !== 'string') return poison('invalid_shape', 'status: expected a string');
    const ev = STATUS_EVENTS[status.toLowerCase()];
    if (!ev) return poison('unknown_status', `status ${JSON.stringify(truncate(status, 100))} is not one of ${Object.keys(STATUS_EVENTS).join(', ')}`);
    const jobId = body.jobId;
    let runId: string | undefined;
    if (typeof jobId === 'number' && (Number.isSafeInteger(jobId) || !Number.isInteger(jobId))) runId = String(jobId);
    else if (typeof jobId === 'number') {
      // A double holds 53 bits: 12345678901234567891 and …892 both parse to …7000, and two
      // runs became one. Snowflake-style ids (Java longs) are routinely that large, so the
      // digits are taken from the text the producer wrote.
      runId = integerLiteral(text, 'jobId');
      if (runId === undefined)
        return poison(
          'invalid_shape',
          'jobId: a number above 2^53 is exact only as plain digits given once; this one is not, and would lose digits: send jobId as a string',
        );
    } else if (typeof jobId === 'string' && jobId !== '') runId = jobId;
    else if (jobId !== undefined && jobId !== null && jobId !== '') return poison('invalid_shape', 'jobId: expected a number or a string');
    // An empty jobId is no id (as an empty jobName is no name): the key stands in, as for a missing one.
    else runId = key;
    if (runId === undefined)
      return poison(
        'invalid_shape',
        jobId === ''
          ? 'jobId: is empty, and the message has no key (or one that is not UTF-8 text) to use instead'
          : 'jobId: is required when the message has no key (or one that is not UTF-8 text)',
      );
    event = { job_name: jobName, run_id: runId, event: ev };
    const completedAt = body.completedAt;
    if (completedAt !== undefined && completedAt !== null && (ev === 'succeeded' || ev === 'failed' || ev === 'cancelled'))
      event.timestamp = completedAt;
    else if (brokerTime !== undefined) event.timestamp = brokerTime;
    if (body.rowsProcessed !== undefined && body.rowsProcessed !== null) event.records_processed = body.rowsProcessed;
    if (body.errorMessage !== undefined && body.errorMessage !== null) event.error_message = body.errorMessage;
    if (body.generatedFields !== undefined && body.generatedFields !== null) {
      let fields: unknown = body.generatedFields;
      if (typeof fields === 'string') {
        try {
          fields = JSON.parse(fields);
        } catch {
          /* not JSON: kept as the string the job sent */
        }
      }
      event.metadata = { generatedFields: fields };
    }
    event.event_id = offsetEventId(msg.topic, msg.partition, msg.offset, msg.timestamp);
  } else if ('event' in body || 'job_name' in body) {
    // JSON.parse keeps "__proto__" as an own key, but Object.assign would make it the copy's
    // prototype, and its fields would be read as the event's. /push refuses it as unknown.
    if (Object.hasOwn(body, '__proto__')) return poison('invalid_shape', '__proto__: unknown field');
    // Object.assign, not a spread: a spread copy that gains properties is slow on Node 20.
    event = Object.assign({}, body);
    if (event.run_id === undefined && key !== undefined) event.run_id = key;
    if (event.timestamp === undefined && brokerTime !== undefined) event.timestamp = brokerTime;
    event.event_id ??= offsetEventId(msg.topic, msg.partition, msg.offset, msg.timestamp);
  } else {
    return poison('invalid_shape', 'expected a status message (jobId, status) or an event (job_name, event)');
  }

  let { draft, issues } = validateEvent(event, opts.limits, opts.now);
  // An operators' status message says how a job ended; a malformed extra (rowsProcessed "1000",
  // errorMessage 42, generatedFields over the metadata limit) must not cost the outcome, as
  // dead-lettering the whole message did: the extras the validator refused are left out, the
  // status is kept, and the run's metadata names what was dropped and why.
  if (!draft && statusMessage && issues.every((i) => LENIENT.some((f) => i.path === f || i.path.startsWith(`${f}.`)))) {
    const dropped = issues.map((i) => `${STATUS_FIELD[i.path.split('.')[0] as string] ?? i.path}: ${i.message}`);
    for (const f of LENIENT) delete event[f];
    event.metadata = { jobpulse_dropped: dropped };
    ({ draft, issues } = validateEvent(event, opts.limits, opts.now));
  }
  if (!draft) return poison('invalid_shape', issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  draft.source = 'kafka';
  return { ok: true, draft };
}

/** Event fields a status message's optional extras fill: left out, rather than the message, when malformed. */
const LENIENT = ['records_processed', 'error_message', 'metadata'] as const;
const STATUS_FIELD: Record<string, string> = { records_processed: 'rowsProcessed', error_message: 'errorMessage', metadata: 'generatedFields' };
