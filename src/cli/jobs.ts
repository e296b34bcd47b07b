/**
 * `jobpulse jobs [--watch] [--json] [--state S,...] [--url URL]`: the jobs table in the
 * terminal: state, a progress bar for running runs, elapsed vs expected, last success,
 * failures. `--state` keeps jobs whose latest run is in one of those states; `--json` prints
 * the API's JSON. `--watch` redraws in place every 2 s until interrupted: in a terminal it
 * shows what fits on the screen, the jobs that need a look first (stuck, then running, then
 * failed), and says how many more there are — with thousands of jobs a full table scrolled
 * away and nothing was redrawn "in place".
 */
interface JobRow {
  job_name: string;
  state?: string;
  latest_run?: { progress?: number; elapsed_seconds?: number; duration_seconds?: number; stuck?: boolean };
  last_success_at?: string;
  expected_duration_seconds?: number;
  failures_total: number;
}

/** Rounded to the unit shown first, then split: 119.7 s is 2m00s, never "1m60s". */
export const dur = (s: number | undefined): string => {
  if (s === undefined) return '-';
  const secs = Math.round(s);
  if (secs < 60) return `${secs}s`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m${String(secs % 60).padStart(2, '0')}s`;
  const mins = Math.round(s / 60);
  return `${Math.floor(mins / 60)}h${String(mins % 60).padStart(2, '0')}m`;
};

export const progressBar = (p: number, width = 10): string => {
  const filled = Math.round((Math.max(0, Math.min(100, p)) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(p)).padStart(3)}%`;
};

const ATTENTION: Record<string, number> = { running: 1, submitting: 1, queued: 2, crashed: 3, failed: 3, timed_out: 3, missed: 3 };
/** Stuck runs first, then running and waiting ones, then failures, then the rest; by name within each. */
const attention = (j: JobRow): number => (j.state === 'running' && j.latest_run?.stuck ? 0 : (ATTENTION[j.state ?? ''] ?? 4));

/** The rows that fit `lines` screen lines (a header and a footer included), the ones that need a look first. */
export function fitJobs(jobs: JobRow[], lines: number): { shown: JobRow[]; hidden: number } {
  const room = Math.max(1, lines - 3);
  if (jobs.length <= room) return { shown: jobs, hidden: 0 };
  const sorted = [...jobs].sort((a, b) => attention(a) - attention(b) || (a.job_name < b.job_name ? -1 : a.job_name > b.job_name ? 1 : 0));
  return { shown: sorted.slice(0, room), hidden: jobs.length - room };
}

export function renderJobsTable(jobs: JobRow[], now: number): string {
  const rows = [['JOB', 'STATE', 'PROGRESS', 'ELAPSED/EXPECTED', 'LAST SUCCESS', 'FAILURES']];
  for (const j of jobs) {
    const r = j.latest_run;
    const running = j.state === 'running';
    rows.push([
      j.job_name,
      `${j.state ?? '-'}${r?.stuck && running ? ' (stuck)' : ''}`,
      running ? progressBar(r?.progress ?? 0) : '',
      `${dur(running ? r?.elapsed_seconds : r?.duration_seconds)}/${dur(j.expected_duration_seconds)}`,
      j.last_success_at ? `${dur((now - Date.parse(j.last_success_at)) / 1000)} ago` : 'never',
      String(j.failures_total),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n') + '\n';
}

export async function jobsCommand(
  flags: Record<string, string | true>,
  io: {
    env: NodeJS.ProcessEnv;
    stdout: (s: string) => void;
    stderr: (s: string) => void;
    onSignal: (s: NodeJS.Signals, fn: () => void) => void;
    /** The terminal's height when stdout is one. */
    rows?: () => number | undefined;
  },
): Promise<number> {
  const url = (typeof flags.url === 'string' ? flags.url : (io.env.JOBPULSE_URL ?? 'http://127.0.0.1:9469')).replace(/\/$/, '');
  const token = typeof flags.token === 'string' ? flags.token : io.env.JOBPULSE_TOKEN;
  const query = typeof flags.state === 'string' ? `?state=${encodeURIComponent(flags.state)}` : '';
  const fetchJobs = async (): Promise<JobRow[]> => {
    const res = await fetch(`${url}/api/v1/jobs${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) {
      const why = ((await res.json().catch(() => ({}))) as { error?: string }).error;
      throw new Error(`agent answered ${res.status}${why ? `: ${why}` : ''}`);
    }
    return ((await res.json()) as { jobs: JobRow[] }).jobs;
  };
  const once = async (): Promise<boolean> => {
    try {
      const jobs = await fetchJobs();
      const lines = flags.watch === true ? io.rows?.() : undefined;
      if (flags.json === true) io.stdout(`${JSON.stringify({ jobs })}\n`);
      else if (lines === undefined) io.stdout(renderJobsTable(jobs, Date.now()));
      else {
        const { shown, hidden } = fitJobs(jobs, lines);
        io.stdout(renderJobsTable(shown, Date.now()) + (hidden > 0 ? `… and ${hidden} more jobs (narrow with --state, or run without --watch for all)\n` : ''));
      }
      return true;
    } catch (err) {
      io.stderr(`jobpulse: cannot read jobs from ${url}: ${(err as Error).message}\n`);
      return false;
    }
  };
  if (flags.watch !== true) return (await once()) ? 0 : 1;
  let stop = false;
  io.onSignal('SIGINT', () => (stop = true));
  io.onSignal('SIGTERM', () => (stop = true));
  while (!stop) {
    io.stdout('\x1b[H\x1b[2J'); // cursor home + clear: redraw in place
    await once();
    for (let i = 0; i < 20 && !stop; i++) await new Promise((r) => setTimeout(r, 100));
  }
  return 0;
}
