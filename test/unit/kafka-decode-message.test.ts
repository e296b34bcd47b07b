import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/schema.js';
import { decodeMessage, offsetEventId, STATUS_EVENTS, type DecodeOptions, type RawMessage } from '../../src/sources/kafka/decode-message.js';

const NOW = Date.UTC(2026, 10, 23, 12);
const opts: DecodeOptions = { limits: parseConfig({}).limits, maxMessageBytes: 1000, jobNameField: 'jobName', now: NOW };

const msg = (value: unknown, over: Partial<RawMessage> = {}): RawMessage => ({
  topic: 'transformation-job-status',
  partition: 2,
  offset: '41',
  key: null,
  value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  timestamp: NOW - 5000,
  ...over,
});

const status = (s: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  jobId: 123,
  status: s,
  errorMessage: null,
  generatedFields: null,
  rowsProcessed: null,
  completedAt: null,
  ...extra,
});

describe('Kafka message decoding', () => {
  it.each<[string, string]>([
    ['Pending', 'queued'],
    ['QUEUED', 'queued'],
    ['Running', 'started'],
    ['processing', 'started'],
    ['Completed', 'succeeded'],
    ['succeeded', 'succeeded'],
    ['Failed', 'failed'],
    ['Cancelled', 'cancelled'],
    ['canceled', 'cancelled'],
  ])('maps status %s to %s, case-insensitively', (s, event) => {
    const d = decodeMessage(msg(status(s)), opts);
    expect(d.ok && d.draft.event).toBe(event);
  });

  it('keeps every field of the operators’ status message', () => {
    const d = decodeMessage(
      msg(
        status('Completed', {
          generatedFields: '{"outputTable":"sales_2026","partitions":12}',
          rowsProcessed: 1000,
          completedAt: '2026-11-23T11:59:00Z',
          jobName: 'sales-transform',
        }),
      ),
      opts,
    );
    expect(d).toEqual({
      ok: true,
      draft: {
        job_name: 'sales-transform',
        run_id: '123',
        event: 'succeeded',
        event_id: `kafka:transformation-job-status:2:41:${NOW - 5000}`,
        timestamp: Date.UTC(2026, 10, 23, 11, 59),
        records_processed: 1000,
        metadata: { generatedFields: { outputTable: 'sales_2026', partitions: 12 } },
        source: 'kafka',
      },
    });
  });

  it('takes the error message of a failure, the topic as job name, and the broker time when there is no completedAt', () => {
    const d = decodeMessage(msg(status('Failed', { errorMessage: 'disk full', generatedFields: 'not json' })), opts);
    expect(d.ok && d.draft).toMatchObject({
      job_name: 'transformation-job-status',
      error_message: 'disk full',
      timestamp: NOW - 5000,
      metadata: { generatedFields: 'not json' },
    });
  });

  it('refuses a message that is not UTF-8 as invalid JSON, and takes one with a byte order mark', () => {
    const bad = decodeMessage({ ...msg(null), value: Buffer.concat([Buffer.from('{"jobId":1,"status":"Running","jobName":"x'), Buffer.from([0xff]), Buffer.from('"}')]) }, opts);
    expect(bad).toMatchObject({ ok: false, reason: 'invalid_json', detail: 'not valid UTF-8: JSON text must be' });
    const bom = decodeMessage({ ...msg(null), value: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(status('Running')))]) }, opts);
    expect(bom.ok && bom.draft).toMatchObject({ run_id: '123', event: 'started' });
  });

  it('refuses a lone surrogate in a native event\'s job name, and does not take a key that is not text as the run id', () => {
    const lone = decodeMessage(msg('{"job_name":"a\\ud800","event":"started"}'), opts);
    expect(lone).toMatchObject({ ok: false, reason: 'invalid_shape' });
    const binaryKey = decodeMessage(msg({ status: 'Running' }, { key: Buffer.from([0x00, 0xff, 0x12]) }), opts);
    expect(binaryKey).toMatchObject({ ok: false, reason: 'invalid_shape', detail: 'jobId: is required when the message has no key (or one that is not UTF-8 text)' });
  });

  it('uses the configured default job name, and the key when there is no jobId', () => {
    const d = decodeMessage(msg({ status: 'Running' }, { key: Buffer.from('run-7') }), { ...opts, jobNameDefault: 'engine' });
    expect(d.ok && d.draft).toMatchObject({ job_name: 'engine', run_id: 'run-7', event: 'started' });
  });

  it('accepts the native /push event, with its own event_id, and the key as run_id', () => {
    const d = decodeMessage(
      msg({ job_name: 'nightly-etl', event: 'progress', progress: 40, event_id: 'e-1' }, { key: Buffer.from('r-9') }),
      opts,
    );
    expect(d.ok && d.draft).toMatchObject({ job_name: 'nightly-etl', run_id: 'r-9', event: 'progress', progress: 40, event_id: 'e-1', source: 'kafka' });
  });

  it.each<[string, RawMessage, string, string]>([
    ['not JSON', msg('{"jobId": 1, "status":'), 'invalid_json', 'JSON'],
    ['a JSON array', msg([1, 2]), 'invalid_shape', 'expected a JSON object'],
    ['an empty value', msg(null), 'invalid_shape', 'tombstone'],
    ['neither format', msg({ hello: 'world' }), 'invalid_shape', 'expected a status message'],
    ['an unknown status', msg(status('Exploded')), 'unknown_status', '"Exploded"'],
    ['a non-string status', msg(status('x', { status: 3 })), 'invalid_shape', 'status: expected a string'],
    ['no jobId and no key', msg({ status: 'Running' }), 'invalid_shape', 'jobId: is required'],
    ['a native event with a bad field', msg({ job_name: 'a', event: 'done' }), 'invalid_shape', 'event: expected one of'],
    ['too many bytes', msg({ job_name: 'a', event: 'started', metadata: 'x'.repeat(2000) }), 'oversize', 'kafka.max_message_bytes'],
    ['a native event with metadata nested too deep', msg(`{"job_name":"a","event":"started","metadata":${'['.repeat(40)}${']'.repeat(40)}}`), 'invalid_shape', 'max_metadata_depth'],
    ['a native event with a __proto__ field (its fields must not become the event\'s)', msg('{"job_name":"a","event":"started","__proto__":{"run_id":"x","progress":50}}'), 'invalid_shape', '__proto__: unknown field'],
  ])('refuses %s as %s', (_name, m, reason, detail) => {
    const d = decodeMessage(m, opts);
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.reason).toBe(reason);
      expect(d.detail).toContain(detail);
    }
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['negative rows', { rowsProcessed: -5 }, 'rowsProcessed: expected a non-negative integer'],
    ['rows as a string', { rowsProcessed: '1000' }, 'rowsProcessed: expected'],
    ['a numeric error message', { errorMessage: 42 }, 'errorMessage: expected a string'],
    ['generatedFields nested too deep', { generatedFields: `${'['.repeat(40)}${']'.repeat(40)}` }, 'generatedFields: is nested deeper than'],
  ])('keeps the outcome of a status message whose extra is malformed (%s), naming what was dropped', (_name, extra, why) => {
    const d = decodeMessage(msg(status('Failed', extra)), opts);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.draft).toMatchObject({ run_id: '123', event: 'failed', source: 'kafka' });
    expect(d.draft.records_processed).toBeUndefined();
    expect(JSON.stringify(d.draft.metadata)).toContain(why);
  });

  it('still refuses a native event with a malformed field (its sender can be told), and a status message with a bad completedAt', () => {
    expect(decodeMessage(msg({ job_name: 'a', event: 'failed', records_processed: -5 }), opts)).toMatchObject({ ok: false, reason: 'invalid_shape' });
    expect(decodeMessage(msg(status('Completed', { completedAt: 'yesterday' })), opts)).toMatchObject({ ok: false, reason: 'invalid_shape' });
  });

  it('keeps every digit of a numeric jobId beyond 2^53, so two such jobs stay two runs', () => {
    const runOf = (text: string) => {
      const d = decodeMessage(msg(text), opts);
      return d.ok ? d.draft.run_id : d;
    };
    // Both parse to the double 12345678901234567000.
    expect(runOf('{"jobId":12345678901234567891,"status":"Running","jobName":"f-huge"}')).toBe('12345678901234567891');
    expect(runOf('{"jobId":12345678901234567892,"status":"Running","jobName":"f-huge"}')).toBe('12345678901234567892');
    expect(runOf('{ "jobName" : "x", "meta": {"jobId": 1}, "note": "\\"jobId\\":5", "jobId"\n:\t-9223372036854775808, "status":"Running"}')).toBe('-9223372036854775808');
    expect(runOf('{"\\u006aobId":9007199254740993,"status":"Running"}')).toBe('9007199254740993');
    // Within 2^53 nothing changes.
    expect(runOf('{"jobId":9007199254740991,"status":"Running"}')).toBe('9007199254740991');
    expect(runOf('{"jobId":12.5,"status":"Running"}')).toBe('12.5');
  });

  it.each([
    ['an exponent', '{"jobId":1.2345678901234567e19,"status":"Running"}'],
    ['a fraction', '{"jobId":12345678901234567891.0,"status":"Running"}'],
    ['the key twice', '{"jobId":12345678901234567891,"status":"Running","jobId":12345678901234567892}'],
  ])('refuses a jobId beyond 2^53 written with %s, asking for a string, rather than guess its digits', (_name, text) => {
    expect(decodeMessage(msg(text, { key: Buffer.from('k') }), opts)).toMatchObject({
      ok: false,
      reason: 'invalid_shape',
      detail: expect.stringContaining('send jobId as a string'),
    });
  });

  it('takes an empty jobId as none: the key stands in, and without a key the detail says it is empty', () => {
    const keyed = decodeMessage(msg({ jobId: '', status: 'Running' }, { key: Buffer.from('run-8') }), opts);
    expect(keyed.ok && keyed.draft.run_id).toBe('run-8');
    expect(decodeMessage(msg({ jobId: '', status: 'Running' }), opts)).toMatchObject({
      ok: false,
      reason: 'invalid_shape',
      detail: 'jobId: is empty, and the message has no key (or one that is not UTF-8 text) to use instead',
    });
    expect(decodeMessage(msg({ jobId: true, status: 'Running' }), opts)).toMatchObject({ ok: false, detail: 'jobId: expected a number or a string' });
  });

  it('derives a stable event id per topic/partition/offset and message timestamp, hashed for very long topic names', () => {
    expect(offsetEventId('t', 0, '9', 1_800_000_000_123)).toBe('kafka:t:0:9:1800000000123');
    // A re-created topic numbers from 0 again: another message at the same offset is another event.
    expect(offsetEventId('t', 0, '9', 1_800_000_000_124)).not.toBe(offsetEventId('t', 0, '9', 1_800_000_000_123));
    // No timestamp (old message format: -1): the position alone.
    expect(offsetEventId('t', 0, '9', -1)).toBe('kafka:t:0:9');
    expect(offsetEventId('t', 0, '9')).toBe('kafka:t:0:9');
    const long = offsetEventId('t'.repeat(250), 0, '9');
    expect(long).toMatch(/^kafka:[0-9a-f]{64}$/);
    expect(offsetEventId('t'.repeat(250), 0, '9')).toBe(long);
    expect(offsetEventId('t'.repeat(250), 0, '10')).not.toBe(long);
  });

  it('has one table entry per documented status', () => {
    expect(Object.keys(STATUS_EVENTS).sort()).toEqual(
      ['cancelled', 'canceled', 'completed', 'failed', 'pending', 'processing', 'queued', 'running', 'succeeded'].sort(),
    );
  });
});
