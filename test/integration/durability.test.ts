import { afterEach, describe, expect, it } from 'vitest';
import { spawnAgent, type AgentProcess } from '../support/spawn-agent.js';
import { tempDir } from '../support/temp-dir.js';

const jobLines = (text: string): string[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('job_'))
    .sort();

const post = (url: string, body: unknown): Promise<Response> =>
  fetch(`${url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

// Child processes, restarts and hundreds of pushes: generous time on a loaded CI machine.
describe('durability of acknowledged pushes', { timeout: 120_000 }, () => {
  const dir = tempDir();
  let agent: AgentProcess | undefined;
  afterEach(() => {
    agent?.child.kill('SIGKILL');
  });

  it('kill -9 right after 2xx loses nothing; restart restores state and /metrics', async () => {
    const db = `${dir.path}/crash.db`;
    agent = await spawnAgent({ db });
    const acked: { event_id: string; run_id: string }[] = [];
    let stop = false;
    let n = 0;
    // Eight concurrent pushers hammer the agent; we SIGKILL it mid-stream.
    const pusher = async (w: number): Promise<void> => {
      while (!stop) {
        const i = n++;
        const job = `job-${i % 50}`;
        const body = [
          { job_name: job, run_id: `run-${w}-${i}`, event: 'started', event_id: `s-${w}-${i}` },
          { job_name: job, run_id: `run-${w}-${i}`, event: i % 7 === 0 ? 'failed' : 'succeeded', event_id: `f-${w}-${i}`, records_processed: i },
        ];
        try {
          const res = await post((agent as AgentProcess).url, body);
          if (res.status === 200) {
            const json = (await res.json()) as { results: { event_id: string; run_id: string }[] };
            acked.push(...json.results);
          }
        } catch {
          return; // connection refused or reset: the agent is gone
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => pusher(w));
    // Kill once a good number of pushes were acknowledged (a count, not a sleep: CI machines vary).
    const deadline = Date.now() + 20_000;
    while (acked.length < 400 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    agent.child.kill('SIGKILL');
    const exit = await agent.exited;
    stop = true;
    await Promise.all(workers);
    expect(exit.signal).toBe('SIGKILL');
    expect(acked.length).toBeGreaterThanOrEqual(400);

    agent = await spawnAgent({ db });
    // Every acknowledged event is in the durable log after the crash.
    const byRun = new Map<string, string[]>();
    for (const a of acked) byRun.set(a.run_id, [...(byRun.get(a.run_id) ?? []), a.event_id]);
    const sample = [...byRun.entries()].filter((_, i) => i % 5 === 0 || i === byRun.size - 1);
    for (const [runId, ids] of sample) {
      const res = await fetch(`${agent.url}/api/v1/runs/${runId}`);
      expect(res.status, `run ${runId}`).toBe(200);
      const run = (await res.json()) as { events: { event_id: string }[] };
      const logged = new Set(run.events.map((e) => e.event_id));
      for (const id of ids) expect(logged.has(id), `event ${id}`).toBe(true);
    }
    // Job counters account for every acknowledged finish.
    const jobs = (await (await fetch(`${agent.url}/api/v1/jobs`)).json()) as { jobs: { runs_total: Record<string, number> }[] };
    const finished = jobs.jobs.reduce((s, j) => s + Object.values(j.runs_total).reduce((a, b) => a + b, 0), 0);
    expect(finished).toBeGreaterThanOrEqual(acked.filter((a) => a.event_id.startsWith('f-')).length);

    // /metrics after another restart equals /metrics before it (job series).
    const before = jobLines(await (await fetch(`${agent.url}/metrics`)).text());
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    agent = await spawnAgent({ db });
    const after = jobLines(await (await fetch(`${agent.url}/metrics`)).text());
    expect(after).toEqual(before);
    expect(before.length).toBeGreaterThan(50 * 20);
  });

  it('SIGTERM drains in-flight pushes before exiting', async () => {
    const db = `${dir.path}/drain.db`;
    agent = await spawnAgent({ db });
    const url = agent.url;
    const acked: string[] = [];
    const pushes = Array.from({ length: 200 }, (_, i) =>
      post(url, { job_name: 'drain', run_id: `r${i}`, event: 'started' }).then(
        (r) => void (r.status === 200 && acked.push(`r${i}`)),
        () => undefined,
      ),
    );
    // Signal while requests are still arriving: the ones accepted must commit before exit.
    await Promise.race(pushes);
    agent.child.kill('SIGTERM');
    await Promise.all(pushes);
    expect((await agent.exited).code).toBe(0);
    expect(agent.output()).toContain('"msg":"stopped"');
    expect(acked.length).toBeGreaterThan(0);
    agent = await spawnAgent({ db });
    const runs = (await (await fetch(`${agent.url}/api/v1/jobs/drain/runs?limit=1000`)).json()) as { runs: { run_id: string }[] };
    const stored = new Set(runs.runs.map((r) => r.run_id));
    for (const id of acked) expect(stored.has(id), id).toBe(true);
  });
});
