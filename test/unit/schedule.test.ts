import { describe, expect, it } from 'vitest';
import { detectMissed, nextSlot, slotsBetween } from '../../src/sources/clock/schedule.js';

const MIN = 60_000;
const at = (s: string): number => Date.parse(s);

describe('schedule slots across daylight-saving changes', () => {
  it.each<[string, string, string, string, string[]]>([
    // Berlin springs forward 2026-03-29 02:00 → 03:00: 02:30 does not exist that day; one slot, not zero.
    ['30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', '2026-03-30T12:00:00Z', ['2026-03-28T01:30:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']],
    // Berlin falls back 2026-10-25 03:00 → 02:00: 02:30 happens twice; one slot, not two.
    ['30 2 * * *', 'Europe/Berlin', '2026-10-23T12:00:00Z', '2026-10-26T12:00:00Z', ['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']],
    // New York falls back 2026-11-01 02:00 → 01:00; a 09:00 job keeps 09:00 local.
    ['0 9 * * *', 'America/New_York', '2026-10-31T00:00:00Z', '2026-11-02T00:00:00Z', ['2026-10-31T13:00:00.000Z', '2026-11-01T14:00:00.000Z']],
  ])('%s %s', (schedule, timezone, from, until, want) => {
    const slots = slotsBetween({ schedule, timezone, grace: 5 * MIN }, at(from), at(until)).map((t) => new Date(t).toISOString());
    expect(slots).toEqual(want);
  });
});

describe('missed schedule detector', () => {
  const spec = { schedule: '0 2 * * *', timezone: 'Europe/Berlin', grace: 10 * MIN };
  // 2026-10-25 02:00 Berlin (CEST) = 00:00Z; the night the clocks go back.
  const e = at('2026-10-25T00:00:00Z');

  it.each<[string, number[], number, string[]]>([
    ['a run on time covers the slot', [e + MIN], e + 11 * MIN, []],
    ['a run a little early covers the slot', [e - 30 * MIN], e + 11 * MIN, []],
    ['a run exactly at the end of grace covers the slot', [e + 10 * MIN], e + 11 * MIN, []],
    ['no run: missed, stamped with the deadline', [], e + 11 * MIN, [`missed:nightly:${e}`]],
    ['a run after grace is late: the slot is missed', [e + 15 * MIN], e + 16 * MIN, [`missed:nightly:${e}`]],
    ['inside the grace window: not judged yet', [], e + 10 * MIN, []],
    ['yesterday\'s run does not cover today', [e - 86_400_000 + MIN], e + 11 * MIN, [`missed:nightly:${e}`]],
  ])('%s', (_why, runStarts, now, ids) => {
    const out = detectMissed({ job_name: 'nightly', spec, from: e - 60 * MIN, now, runStarts });
    expect(out.map((d) => d.event_id)).toEqual(ids);
    for (const d of out) {
      expect(d.timestamp).toBe(e + 10 * MIN);
      expect(d.run_id).toBe(d.event_id);
      expect(d.error_message).toContain('expected at 2026-10-25T00:00:00.000Z');
    }
  });

  it('judges each slot once per window; a restart re-checks with the same event ids', () => {
    const from = e - 60 * MIN;
    const first = detectMissed({ job_name: 'nightly', spec, from, now: e + 20 * MIN, runStarts: [] });
    // The restarted agent starts checking from its lookback: the same slot, the same id.
    const afterRestart = detectMissed({ job_name: 'nightly', spec, from: e - 86_400_000 + 11 * MIN, now: e + 30 * MIN, runStarts: [e - 86_400_000] });
    expect(afterRestart.map((d) => d.event_id)).toEqual(first.map((d) => d.event_id));
    // From the previous check on, nothing new is due.
    expect(detectMissed({ job_name: 'nightly', spec, from: e + 20 * MIN, now: e + 40 * MIN, runStarts: [] })).toEqual([]);
  });

  it('next expected start is the next slot in local time', () => {
    expect(new Date(nextSlot(spec, e) as number).toISOString()).toBe('2026-10-26T01:00:00.000Z');
  });
});
