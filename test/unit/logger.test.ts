import { describe, expect, it } from 'vitest';
import { bufferedLines, createLogger } from '../../src/runtime/logger.js';

const capture = () => {
  const lines: string[] = [];
  return { lines, write: (line: string) => void lines.push(line), parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
};
const turn = () => new Promise((r) => setImmediate(r));

describe('logger lines', () => {
  it('writes one JSON object per line: time, level, msg, context, then fields', () => {
    const c = capture();
    const log = createLogger({ write: c.write, now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 6) }, { source: 'kafka' });
    log.info('run state changed', { job_name: 'etl', run_id: 'r1', from: 'queued', to: 'running', skipped: undefined });
    expect(c.lines).toHaveLength(1);
    expect(c.lines[0]).toBe(
      '{"time":"2026-01-02T03:04:05.006Z","level":"info","msg":"run state changed","source":"kafka","job_name":"etl","run_id":"r1","from":"queued","to":"running"}\n',
    );
  });

  it('escapes the message and values, and logs without fields or context', () => {
    const c = capture();
    const log = createLogger({ write: c.write });
    log.warn('a "quoted"\nmessage');
    log.error('x', { s: 'tab\there', n: 1.5, nested: { a: [1, null] } });
    expect(c.parsed()).toEqual([
      expect.objectContaining({ level: 'warn', msg: 'a "quoted"\nmessage' }),
      expect.objectContaining({ level: 'error', msg: 'x', s: 'tab\there', n: 1.5, nested: { a: [1, null] } }),
    ]);
    expect(Object.keys(c.parsed()[0] as object)).toEqual(['time', 'level', 'msg']);
  });

  it('lets a field override the context (as a spread would), without a key twice', () => {
    const c = capture();
    const log = createLogger({ write: c.write }).child({ source: 'spark', job_name: 'a' });
    log.info('m', { job_name: 'b', run_id: 'r' });
    expect(c.lines[0]?.match(/"job_name"/g)).toHaveLength(1);
    expect(c.parsed()[0]).toMatchObject({ source: 'spark', job_name: 'b', run_id: 'r' });
  });

  it('a field or context key named time, level or msg takes the merged path: each key once, the later value wins', () => {
    const c = capture();
    createLogger({ write: c.write }).info('m', { msg: 'from a field', job_name: 'j' });
    createLogger({ write: c.write }, { level: 'from the context' }).warn('w');
    for (const line of c.lines) for (const k of ['time', 'level', 'msg']) expect(line.match(new RegExp(`"${k}"`, 'g'))).toHaveLength(1);
    expect(c.parsed()).toEqual([
      expect.objectContaining({ level: 'info', msg: 'from a field', job_name: 'j' }),
      expect.objectContaining({ level: 'from the context', msg: 'w' }),
    ]);
  });

  it('serializes an Error in err with its message, name and stack', () => {
    const c = capture();
    const log = createLogger({ write: c.write });
    log.error('failed', { err: new TypeError('boom'), job_name: 'j' });
    const line = c.parsed()[0] as { err: { message: string; name: string; stack: string }; job_name: string };
    expect(line.err.message).toBe('boom');
    expect(line.err.name).toBe('TypeError');
    expect(line.err.stack).toContain('boom');
    expect(line.job_name).toBe('j');
  });

  it('drops lines below the level', () => {
    const c = capture();
    const log = createLogger({ level: 'warn', write: c.write });
    log.debug('d');
    log.info('i');
    log.warn('w');
    expect(c.parsed().map((l) => l.msg)).toEqual(['w']);
  });
});

describe('bufferedLines', () => {
  it('writes the info lines of one event-loop turn in one chunk, in order', async () => {
    const chunks: string[] = [];
    const log = createLogger({ write: bufferedLines((c) => chunks.push(c)) });
    for (let i = 0; i < 3; i++) log.info(`line ${i}`);
    expect(chunks).toEqual([]);
    await turn();
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['line 0', 'line 1', 'line 2']);
  });

  it('writes a warning or an error at once, after the lines gathered before it', () => {
    const chunks: string[] = [];
    const log = createLogger({ write: bufferedLines((c) => chunks.push(c)) });
    log.info('first');
    log.error('now');
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['first', 'now']);
  });

  it('writes at once past 64 KiB gathered, and on flush()', () => {
    const chunks: string[] = [];
    const sink = bufferedLines((c) => chunks.push(c));
    const log = createLogger({ write: sink });
    const big = 'x'.repeat(1000);
    for (let i = 0; i < 70; i++) log.info(big);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.length).toBeGreaterThanOrEqual(64 * 1024);
    log.info('tail');
    sink.flush();
    expect(chunks).toHaveLength(2);
    expect(chunks[1]).toContain('"msg":"tail"');
  });
});
