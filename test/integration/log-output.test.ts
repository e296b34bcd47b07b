/**
 * The agent's log on stdout, as an operator runs it: a child process whose stdout is a pipe.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnAgent, type AgentProcess } from '../support/spawn-agent.js';
import { tempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';

describe('log output', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  const start = async (env: Record<string, string> = {}): Promise<AgentProcess> => {
    const dir = tempDir();
    const agent = await spawnAgent({ db: join(dir.path, 'jobpulse.db'), env });
    cleanups.push(async () => {
      agent.child.kill('SIGKILL');
      await agent.exited;
      dir.cleanup();
    });
    return agent;
  };
  const push = (a: AgentProcess, body: unknown) =>
    fetch(`${a.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('writes one JSON object per line, a run state change included', async () => {
    const a = await start();
    expect((await push(a, { job_name: 'logged', event: 'started' })).status).toBe(200);
    await waitFor(() => a.output().includes('"msg":"run state changed"'), { what: 'the state change line' });
    const lines = a.output().split('\n').filter((l) => l.startsWith('{'));
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ level: 'info', msg: 'run state changed', job_name: 'logged', source: 'push', from: 'new', to: 'running' }),
    );
  });

  it('keeps serving when the reader of its stdout goes away, and says so once on stderr', async () => {
    const a = await start();
    let stderr = '';
    a.child.stderr?.on('data', (d) => (stderr += d));
    a.child.stdout?.destroy();
    for (let i = 0; i < 5; i++) {
      const r = await push(a, { job_name: 'orphaned', event: i === 0 ? 'started' : 'succeeded', run_id: `r${i}` });
      expect(r.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(a.child.exitCode).toBeNull();
    expect((await fetch(`${a.url}/readyz`)).status).toBe(200);
    await waitFor(() => stderr.includes('stdout failed'), { what: 'the notice on stderr' });
    expect(stderr.match(/stdout failed/g)).toHaveLength(1);
  });

  it('drops lines past log.max_backlog_bytes while the reader of stdout stalls, and says how many once it catches up', async () => {
    const a = await start({ JOBPULSE_LOG__MAX_BACKLOG_BYTES: '4096' });
    a.child.stdout?.pause();
    // 3,000 new runs: a state change line each (~200 bytes), far past the pipe's 64 KiB and the backlog bound.
    for (let b = 0; b < 3; b++) {
      const events = Array.from({ length: 1000 }, (_, i) => ({ job_name: 'stalled', event: 'started', run_id: `s${b}-${i}` }));
      expect((await push(a, events)).status).toBe(200);
    }
    a.child.stdout?.resume();
    let later = 0;
    await waitFor(async () => {
      // A later line is the first to find the backlog drained; it brings the count with it.
      await push(a, { job_name: 'stalled', event: 'started', run_id: `later-${later++}` });
      return a.output().includes('log lines dropped');
    }, { what: 'the dropped-lines warning' });
    const note = a.output().split('\n').find((l) => l.includes('log lines dropped')) as string;
    const parsed = JSON.parse(note) as { level: string; dropped: number; max_backlog_bytes: number };
    expect(parsed.level).toBe('warn');
    expect(parsed.max_backlog_bytes).toBe(4096);
    expect(parsed.dropped).toBeGreaterThan(1000);
    // Each of the 3,000 runs' lines was either written or counted as dropped; the count may also
    // hold lines of the later runs that met the backlog still draining.
    // Settled: no new output over four polls in a row (~200 ms).
    let seen = -1;
    let still = 0;
    await waitFor(() => {
      const n = a.output().length;
      still = n === seen ? still + 1 : 0;
      seen = n;
      return still >= 4;
    }, { what: 'the output to settle' });
    const kept = a.output().split('\n').filter((l) => l.includes('"msg":"run state changed"') && l.includes('"run_id":"s')).length;
    expect(kept + parsed.dropped).toBeGreaterThanOrEqual(3000);
    expect(kept + parsed.dropped).toBeLessThanOrEqual(3000 + later);
    expect(a.child.exitCode).toBeNull();
  });
});
