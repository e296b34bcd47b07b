import { spawnSync } from 'node:child_process';

/** What `promtool check metrics` prints about an exposition ('' when it is clean) and its exit status. */
export function promtoolCheckMetrics(text: string): { output: string; status: number | null } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { output: r.stdout + r.stderr, status: r.status };
}
