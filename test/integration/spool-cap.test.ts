/** The `jobpulse run` spool's caps on a real file: events and bytes, oldest dropped first. */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { spool, spoolDropped, type CliEvent } from '../../src/cli/event-sender.js';
import { tempDir } from '../support/temp-dir.js';

const ev = (n: number, pad = 0): CliEvent => ({ job_name: 'j', run_id: 'r', event: 'heartbeat', event_id: `e${n}`, timestamp: n, ...(pad ? { error_message: 'x'.repeat(pad) } : {}) });
const ids = (path: string): string[] =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as CliEvent).event_id);

describe('spool caps', () => {
  const dirs: { cleanup: () => void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));
  const path = (): string => {
    const d = tempDir();
    dirs.push(d);
    return `${d.path}/spool.jsonl`;
  };

  it.each([
    // [what, cap options, batches of event numbers (pad bytes), ids kept, dropped]
    ['under both caps', { spoolMaxEvents: 5 }, [[1, 2], [3]], ['e1', 'e2', 'e3'], 0],
    ['event cap across appends', { spoolMaxEvents: 3 }, [[1, 2], [3, 4], [5]], ['e3', 'e4', 'e5'], 2],
    ['one batch larger than the cap', { spoolMaxEvents: 2 }, [[1, 2, 3, 4, 5]], ['e4', 'e5'], 3],
  ] as const)('%s', (_what, caps, batches, kept, dropped) => {
    const p = path();
    const warnings: string[] = [];
    for (const b of batches) spool({ spoolPath: p, ...caps, warn: (s) => warnings.push(s) }, b.map((n) => ev(n)));
    expect(ids(p)).toEqual(kept);
    expect(spoolDropped(p)).toBe(dropped);
    expect(warnings.length > 0).toBe(dropped > 0);
  });

  it('byte cap: drops the oldest until the file fits', () => {
    const p = path();
    const warnings: string[] = [];
    const opts = { spoolPath: p, spoolMaxBytes: 1000, warn: (s: string) => warnings.push(s) };
    for (let i = 1; i <= 6; i++) spool(opts, [ev(i, 200)]); // ~290 bytes a line: three fit in 1000
    expect(readFileSync(p).byteLength).toBeLessThanOrEqual(1000);
    expect(ids(p)).toEqual(['e4', 'e5', 'e6']);
    expect(spoolDropped(p)).toBe(3);
    expect(warnings.at(-1)).toContain('3 dropped since the last flush');
  });
});
