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
  const start = async (): Promise<AgentProcess> => {
    const dir = tempDir();
    const agent = await spawnAgent({ db: join(dir.path, 'jobpulse.db') });
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
});
