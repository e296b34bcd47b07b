import { describe, expect, it } from 'vitest';
import { dur, fitJobs, renderJobsTable } from '../../src/cli/jobs.js';

type Row = Parameters<typeof fitJobs>[0][number];
const job = (job_name: string, state: string, stuck = false): Row => ({ job_name, state, failures_total: 0, latest_run: { stuck, progress: 10 } });

describe('jobpulse jobs --watch in a terminal', () => {
  const jobs = [job('a-ok', 'succeeded'), job('b-run', 'running'), job('c-fail', 'failed'), job('d-stuck', 'running', true), job('e-queued', 'queued'), job('f-crash', 'crashed'), job('g-ok', 'succeeded')];

  it('shows every job, in name order, when they fit', () => {
    expect(fitJobs(jobs, 10)).toEqual({ shown: jobs, hidden: 0 });
  });

  it('shows what fits the screen, the jobs that need a look first, and counts the rest', () => {
    const { shown, hidden } = fitJobs(jobs, 8);
    expect(shown.map((j) => j.job_name)).toEqual(['d-stuck', 'b-run', 'e-queued', 'c-fail', 'f-crash']);
    expect(hidden).toBe(2);
    // Header, rows and the footer line stay within the screen.
    expect(renderJobsTable(shown, Date.now()).split('\n').length - 1 + 1).toBeLessThanOrEqual(8);
    expect(fitJobs(jobs, 2).shown).toHaveLength(1);
  });
});

describe('jobpulse jobs durations', () => {
  it.each([
    [undefined, '-'],
    [0, '0s'],
    [59.4, '59s'],
    [59.7, '1m00s'],
    [60, '1m00s'],
    [119.7, '2m00s'],
    [125.2, '2m05s'],
    [3599.4, '59m59s'],
    [3599.7, '1h00m'],
    [3600, '1h00m'],
    [7199, '2h00m'],
    [7170, '2h00m'],
    [7140, '1h59m'],
    [90_000, '25h00m'],
  ])('%s s reads %s', (s, text) => {
    expect(dur(s)).toBe(text);
  });
});
