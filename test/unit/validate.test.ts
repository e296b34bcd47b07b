import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/schema.js';
import { ValidationError } from '../../src/domain/errors.js';
import { fitName, nameProblem, parseTimestamp, validatePushBody } from '../../src/ingest/validate.js';

const limits = parseConfig({}).limits;
const NOW = Date.UTC(2026, 10, 23, 12);

/** Objects nested `depth` levels: {"k":{"k":…{}}}. */
const nested = (depth: number): unknown => {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) v = { k: v };
  return v;
};

const issuesOf = (body: unknown): string[] => {
  try {
    validatePushBody(body, limits, NOW);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues.map((i) => `${i.path}: ${i.message}`);
  }
};

describe('push validation', () => {
  it.each<[string, unknown, string]>([
    ['missing job_name', { event: 'started' }, 'job_name: is required'],
    ['unknown event', { job_name: 'a', event: 'done' }, 'event: expected one of'],
    ['progress above 100', { job_name: 'a', event: 'progress', progress: 101 }, 'progress: expected a number from 0 to 100'],
    ['negative records', { job_name: 'a', event: 'progress', records_processed: -1 }, 'records_processed: expected a non-negative integer'],
    ['future timestamp', { job_name: 'a', event: 'started', timestamp: (NOW + 3600_000) / 1000 }, 'timestamp: is 3600s in the future'],
    ['ancient timestamp', { job_name: 'a', event: 'started', timestamp: '2020-01-01T00:00:00Z' }, 'timestamp: is older than'],
    ['timestamp without zone', { job_name: 'a', event: 'started', timestamp: '2026-11-23T12:00:00' }, 'timestamp: expected unix seconds'],
    ['bad label name', { job_name: 'a', event: 'started', labels: { '1x': 'v' } }, 'labels.1x: label names match'],
    ['label value not a string', { job_name: 'a', event: 'started', labels: { team: 3 } }, 'labels.team: expected a string'],
    ['unknown field', { job_name: 'a', event: 'started', jobname: 'x' }, 'jobname: unknown field'],
    ['control characters in job_name', { job_name: 'a\nb', event: 'started' }, 'job_name: must not contain control characters'],
    // As JSON.parse gives `"\ud800"`: storage would write U+FFFD, another name after a restart.
    ['job_name ".."', { job_name: '..', event: 'started' }, 'job_name: must not be "." or ".."'],
    ['event_id "."', { job_name: 'a', event_id: '.', event: 'started' }, 'event_id: must not be "." or ".."'],
    ['a lone surrogate in job_name', { job_name: 'a\ud800b', event: 'started' }, 'job_name: must be well-formed Unicode (it holds a lone surrogate)'],
    ['a lone surrogate in run_id', { job_name: 'a', run_id: 'r\udc00', event: 'started' }, 'run_id: must be well-formed Unicode'],
    ['a lone surrogate in a label value', { job_name: 'a', event: 'started', labels: { team: '\ud83d' } }, 'labels.team: must be well-formed Unicode'],
    ['metadata too large', { job_name: 'a', event: 'started', metadata: { x: 'y'.repeat(70_000) } }, 'metadata: is 70008 bytes'],
    ['metadata nested too deep', { job_name: 'a', event: 'started', metadata: nested(33) }, 'metadata: is nested deeper than limits.max_metadata_depth (32)'],
    // JSON.parse takes this; JSON.stringify would throw a RangeError.
    ['metadata nested 20,000 deep', JSON.parse(`{"job_name":"a","event":"started","metadata":${'['.repeat(20_000)}${']'.repeat(20_000)}}`), 'metadata: is nested deeper'],
    ['unknown resource', { job_name: 'a', event: 'started', resources: { gpu: 1 } }, 'resources.gpu: unknown field'],
    ['empty batch', [], '(body): expected at least one event'],
    ['not an object', 'started', '(body): expected an event object'],
  ])('%s', (_name, body, expected) => {
    expect(issuesOf(body).join('\n')).toContain(expected);
  });

  it('lists every issue of every event with its index', () => {
    const issues = issuesOf([{ job_name: 'a', event: 'started' }, { event: 'x', progress: -1 }]);
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^\[1\]\.job_name/), expect.stringMatching(/^\[1\]\.event/), expect.stringMatching(/^\[1\]\.progress/)]));
  });

  it('keeps an error message with a lone surrogate as storage keeps it (U+FFFD), a pair whole', () => {
    const [d] = validatePushBody({ job_name: 'a', event: 'failed', error_message: 'bad \ud800 but \ud83d\ude00 fine' }, limits, NOW);
    expect(d?.error_message).toBe('bad \ufffd but \ud83d\ude00 fine');
  });

  it('truncates a long error message with a marker instead of refusing it', () => {
    const [d] = validatePushBody({ job_name: 'a', event: 'failed', error_message: 'e'.repeat(9000) }, limits, NOW);
    expect(d?.error_message).toMatch(/…\[truncated 808 chars\]$/);
    // Counted in characters: 8192 emoji are kept whole, none cut in half.
    const [e] = validatePushBody({ job_name: 'a', event: 'failed', error_message: '\u{1F600}'.repeat(8200) }, limits, NOW);
    expect(e?.error_message).toBe(`${'\u{1F600}'.repeat(8192)}…[truncated 8 chars]`);
  });

  it('counts name and label value lengths in characters (code points), as the limits say', () => {
    const emoji = '\u{1F600}';
    expect(issuesOf({ job_name: emoji.repeat(150), event: 'started' })).toEqual([]);
    expect(issuesOf({ job_name: emoji.repeat(200), run_id: emoji.repeat(200), event: 'started' })).toEqual([]);
    expect(issuesOf({ job_name: emoji.repeat(201), event: 'started' })).toEqual(['job_name: expected 1 to 200 characters']);
    expect(issuesOf({ job_name: 'a', event: 'started', labels: { team: emoji.repeat(1024) } })).toEqual([]);
    expect(issuesOf({ job_name: 'a', event: 'started', labels: { team: emoji.repeat(1025) } })).toEqual(['labels.team: at most 1024 characters']);
    // A lone surrogate is one character (and refused for another reason).
    expect(nameProblem('\ud800'.repeat(200), 200)).toBe('must be well-formed Unicode (it holds a lone surrogate)');
  });

  it.each<[unknown, number | undefined]>([
    [1795435200, 1795435200000],
    [1795435200123, 1795435200123],
    ['2026-11-23T12:00:00Z', Date.UTC(2026, 10, 23, 12)],
    ['2026-11-23T13:00:00+01:00', Date.UTC(2026, 10, 23, 12)],
    ['yesterday', undefined],
    [-5, undefined],
    ['2026-11-23T13:00+0100', Date.UTC(2026, 10, 23, 12)],
    ['2026-11-23T12:00:00.250Z', Date.UTC(2026, 10, 23, 12) + 250],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
    ['2026-12-31T23:59:59-23:59', Date.UTC(2027, 0, 1, 23, 58, 59)],
    // Date.parse rolls these over to another day; they name no real instant.
    ['2026-11-31T10:00:00Z', undefined],
    ['2026-02-29T10:00:00Z', undefined],
    ['1900-02-29T10:00:00Z', undefined],
    ['2026-04-31T10:00:00Z', undefined],
    ['2026-11-23T24:00:00Z', undefined],
    ['2026-11-23T12:60:00Z', undefined],
    ['2026-11-23T12:00:60Z', undefined],
    ['2026-13-01T10:00:00Z', undefined],
    ['2026-11-00T10:00:00Z', undefined],
    ['2026-11-23T12:00:00+24:00', undefined],
  ])('parses timestamp %j', (v, expected) => {
    expect(parseTimestamp(v)).toBe(expected);
  });

  it.each<[string, string]>([
    ['2026-11-31T10:00:00Z', 'timestamp: day 31 does not exist in 2026-11 (01 to 30)'],
    ['2026-02-29T10:00:00Z', 'timestamp: day 29 does not exist in 2026-02 (01 to 28)'],
    ['2026-11-23T24:00:00Z', 'timestamp: time 24:00:00 does not exist (00:00:00 to 23:59:59)'],
    ['2026-13-01T10:00:00Z', 'timestamp: month 13 does not exist (01 to 12)'],
  ])('refuses the impossible time %j, saying why', (timestamp, expected) => {
    expect(issuesOf({ job_name: 'a', event: 'started', timestamp })).toEqual([expected]);
  });

  it('takes metadata nested exactly limits.max_metadata_depth deep', () => {
    expect(issuesOf({ job_name: 'a', event: 'started', metadata: nested(32) })).toEqual([]);
    expect(issuesOf({ job_name: 'a', event: 'started', metadata: [1, 'x', null, { a: [[]] }] })).toEqual([]);
  });

  it.each<[string, string]>([
    ['nightly etl', 'nightly etl'],
    ['line\none\ttab\u0000nul', 'line one tab nul'],
    ['x'.repeat(250), 'x'.repeat(200)],
    ['\n\t', 'app-fallback'],
    // A job the REST API could not address (/api/v1/jobs/..).
    ['.', 'app-fallback'],
    [' .. ', 'app-fallback'],
    ['lone \ud800 surrogate', 'lone \ufffd surrogate'],
    // Cut in characters, never inside a surrogate pair.
    [`${'x'.repeat(199)}\ud83d\ude00`, `${'x'.repeat(199)}\ud83d\ude00`],
    [`${'x'.repeat(199)}\ud83d\ude00\ud83d\ude00`, `${'x'.repeat(199)}\ud83d\ude00`],
    ['\ud83d\ude00'.repeat(250), '\ud83d\ude00'.repeat(200)],
  ])('fits the foreign name %j to the job-name rule', (name, expected) => {
    const fitted = fitName(name, 200, 'app-fallback');
    expect(fitted).toBe(expected);
    expect(nameProblem(fitted, 200)).toBeUndefined();
  });
});
