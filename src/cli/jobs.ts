/**
 * `jobpulse jobs [--watch] [--json] [--url URL]`: the jobs table in the terminal: state,
 * a progress bar for running runs, elapsed vs expected, last success, failures.
 * `--watch` redraws in place every 2 s until interrupted; `--json` prints the API's JSON.
 */
interface JobRow {
  job_name: string;
  state?: string;
  latest_run?: { progress?: number; elapsed_seconds?: number; duration_seconds?: number; stuck?: boolean };
  last_success_at?: string;
  expected_duration_seconds?: number;
  failures_total: number;
}

const dur = (s: number | undefined): string => {
  if (s === undefined) return '-';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
};

export const progressBar = (p: number, width = 10): string => {
  const filled = Math.round((Math.max(0, Math.min(100, p)) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(p)).padStart(3)}%`;
};

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
  io: { env: NodeJS.ProcessEnv; stdout: (s: string) => void; stderr: (s: string) => void; onSignal: (s: NodeJS.Signals, fn: () => void) => void },
): Promise<number> {
  const url = (typeof flags.url === 'string' ? flags.url : (io.env.JOBPULSE_URL ?? 'http://127.0.0.1:9469')).replace(/\/$/, '');
  const token = typeof flags.token === 'string' ? flags.token : io.env.JOBPULSE_TOKEN;
  const fetchJobs = async (): Promise<JobRow[]> => {
    const res = await fetch(`${url}/api/v1/jobs`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`agent answered ${res.status}`);
    return ((await res.json()) as { jobs: JobRow[] }).jobs;
  };
  const once = async (): Promise<boolean> => {
    try {
      const jobs = await fetchJobs();
      io.stdout(flags.json === true ? `${JSON.stringify({ jobs })}\n` : renderJobsTable(jobs, Date.now()));
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
