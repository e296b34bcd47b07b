/**
 * Failures per job in a sliding window (the jobs table's "failures 24h" column), kept
 * in memory so `/` does not read every finished run of the last day from the store on
 * each render (about 40 ms of a 10k-job page). Loaded from the store on first use, then
 * fed by `state.onChange` — the same committed snapshots metrics see.
 *
 * The listener is attached in the same tick as the load query starts; the query runs off
 * the event loop (SQLite: on its checkpointer thread). Loaded failures are keyed by run id,
 * like the listener's, so one that fails while the load is in flight counts once (a store
 * without `endedRuns` gives no ids: there it may count twice until it leaves the window).
 */
import { FAILURE_STATES } from '../../domain/run.js';
import type { JobState } from '../../state/job-state.js';
import type { Store } from '../../store/store.js';

export interface RecentFailures {
  /** Failed, timed-out and crashed runs per job that ended in (now - window, now]. */
  counts(now: number): Promise<Map<string, number>>;
}

export function createRecentFailures(deps: { store: Store; state: JobState; windowMs: number }): RecentFailures {
  /** job → key → ended_at. Keys are run ids from changes; loaded rows have no run id. */
  const byJob = new Map<string, Map<string, number>>();
  const add = (job: string, key: string, endedAt: number): void => {
    let runs = byJob.get(job);
    if (!runs) byJob.set(job, (runs = new Map()));
    runs.set(key, endedAt);
  };
  let loaded: Promise<void> | undefined;
  let listening = false;
  const load = (now: number): Promise<void> => {
    if (!listening) {
      listening = true;
      deps.state.onChange(({ runs, removed }) => {
        for (const name of removed ?? []) byJob.delete(name);
        for (const r of runs) if (FAILURE_STATES.has(r.state) && r.ended_at !== undefined) add(r.job_name, r.run_id, r.ended_at);
      });
    }
    const q = { since: now - deps.windowMs, until: now + 1 };
    // Keyed by run id where the store names it, so a failure the listener saw while the load
    // was in flight is not counted twice.
    if (deps.store.endedRuns)
      return deps.store.endedRuns({ ...q, states: [...FAILURE_STATES] }).then((rows) => {
        for (const r of rows) add(r.job_name, r.run_id, r.ended_at);
      });
    return deps.store.finishedRuns(q).then((rows) => {
      let i = 0;
      for (const r of rows) if (FAILURE_STATES.has(r.state)) add(r.job_name, `\u0000loaded-${i++}`, r.ended_at);
    });
  };

  return {
    async counts(now) {
      // A failed load (the store was down) is tried again by the next page view: kept, its
      // rejection answered every later view with an error until the agent restarted.
      await (loaded ??= load(now).catch((err: unknown) => {
        loaded = undefined;
        throw err;
      }));
      const since = now - deps.windowMs;
      const out = new Map<string, number>();
      for (const [job, runs] of byJob) {
        let n = 0;
        for (const [key, endedAt] of runs) {
          if (endedAt <= since) runs.delete(key);
          else if (endedAt <= now) n += 1;
        }
        if (runs.size === 0) byJob.delete(job);
        if (n > 0) out.set(job, n);
      }
      return out;
    },
  };
}
