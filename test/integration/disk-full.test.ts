/**
 * A disk that fills up under the agent: pushes get 503 store_unavailable (never a 2xx for an
 * event that is not durable), /readyz says the store cannot be written, and once there is
 * room again the agent serves and reports ready by itself, with every acknowledged event kept.
 * The full disk is a soft file-size limit on the agent process (RLIMIT_FSIZE: a write past it
 * fails as ENOSPC or EFBIG would), lifted with util-linux `prlimit`: no root, no mount.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { hasBinary } from '../support/require-binary.js';
import { spawnAgent, type AgentProcess } from '../support/spawn-agent.js';
import { tempDir } from '../support/temp-dir.js';

const has = hasBinary('prlimit', 'util-linux');

describe.skipIf(!has)('a full disk', { timeout: 60_000 }, () => {
  const dir = tempDir();
  let agent: AgentProcess | undefined;
  afterEach(() => {
    agent?.child.kill('SIGKILL');
  });

  it('refuses pushes with 503, fails /readyz, and recovers when there is room again, losing nothing acknowledged', async () => {
    agent = await spawnAgent({ db: `${dir.path}/full.db`, fileSizeLimitKib: 1024 });
    const url = agent.url;
    const push = (i: number): Promise<Response> =>
      fetch(`${url}/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(Array.from({ length: 10 }, (_, k) => ({ job_name: `job-${i}-${k}`, event: 'started', metadata: { blob: 'x'.repeat(4000) } }))),
      });
    const acked = new Set<string>();
    let refused = 0;
    const notReady: string[][] = [];
    // Until the store stays full (the WAL can be checkpointed away, the database file not), and
    // /readyz, asked after every refused push, has said so: its checks write (a WAL frame per
    // probe), and the last KiB under the limit may still take a probe or two, as a nearly full
    // disk would; a checkpoint may also make room for a while. `SELECT 1`, the check before,
    // answered 200 throughout.
    for (let i = 0; i < 2000 && (refused < 20 || notReady.length === 0); i++) {
      const res = await push(i);
      if (res.status === 200) {
        for (let k = 0; k < 10; k++) acked.add(`job-${i}-${k}`);
        refused = 0;
        continue;
      }
      expect(res.status).toBe(503);
      expect(((await res.json()) as { code: string }).code).toBe('store_unavailable');
      refused += 1;
      const ready = await fetch(`${url}/readyz`);
      const body = (await ready.json()) as { checks: { name: string; ok: boolean }[] };
      if (ready.status === 503) notReady.push(body.checks.filter((c) => !c.ok).map((c) => c.name));
    }
    expect(refused).toBeGreaterThanOrEqual(20);
    expect(acked.size).toBeGreaterThan(0);
    expect(notReady.length).toBeGreaterThan(0);
    // The store and writer checks each probe; either may be the one that no longer fits.
    for (const failing of notReady) expect(['store', 'writer']).toEqual(expect.arrayContaining(failing));
    const errors = Number(/^jobpulse_store_errors_total (\d+)/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
    expect(errors).toBeGreaterThanOrEqual(20);

    // Room again: ready without a restart, pushes durable again.
    execFileSync('prlimit', ['--pid', String(agent.child.pid), '--fsize=unlimited:']);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect((await push(99_999)).status).toBe(200);
    const jobs = ((await (await fetch(`${url}/api/v1/jobs`)).json()) as { jobs: { job_name: string }[] }).jobs.map((j) => j.job_name);
    for (const name of acked) expect(jobs).toContain(name);

    // And across a restart: every acknowledged job is in the store.
    agent.child.kill('SIGTERM');
    await agent.exited;
    agent = await spawnAgent({ db: `${dir.path}/full.db` });
    const after = new Set(((await (await fetch(`${agent.url}/api/v1/jobs`)).json()) as { jobs: { job_name: string }[] }).jobs.map((j) => j.job_name));
    for (const name of acked) expect(after.has(name)).toBe(true);
  });
});
