/**
 * Child batches per parent run, in memory. JobState keeps only unfinished runs and each
 * job's latest run, so finished children leave it; this index remembers the state of
 * every child of a parent that is still open (fed by JobState's change listener, loaded
 * from the store at start) so the detectors can compute the parent's progress and
 * `job_batches` can be rendered without a query per scrape.
 */
import { isTerminal, type Run, type RunState } from '../domain/run.js';
import type { BatchCounts } from '../sources/clock/detect.js';
import type { Store } from '../store/store.js';
import type { JobState } from './job-state.js';

interface Entry {
  children: Map<string, RunState>;
  last_ended_at?: number;
  /** The parent run's job, once the parent itself has been seen (a deleted job's entries go with it). */
  job?: string;
}

export interface BatchIndex {
  counts(parentRunId: string): BatchCounts | undefined;
  /** Loads the children of every unfinished run from the store. */
  load(): Promise<void>;
  stop(): void;
}

/** Parent run ids asked of the store per read at start (one bulk read each, bounded parameters). */
const LOOKUP_CHUNK = 5_000;

export function createBatchIndex(deps: { state: JobState; store: Store }): BatchIndex {
  const { state, store } = deps;
  const parents = new Map<string, Entry>();

  /**
   * Memory holds only open runs and each job's latest: a parent it does not know is either
   * still to come (its children may report first) or finished and no longer its job's latest.
   * The store tells which; the entry of a finished one was never shown and never dropped.
   */
  const dropIfFinished = (parentRunId: string, e: Entry): void => {
    store.getRun(parentRunId).then(
      (p) => {
        if (p && isTerminal(p.state) && parents.get(parentRunId) === e) parents.delete(parentRunId);
      },
      () => undefined, // the store unreachable: the entry stays, as before (small, harmless)
    );
  };
  const note = (r: Run): void => {
    const parent = r.parent_run_id !== undefined ? state.getRun(r.parent_run_id) : undefined;
    // A child of a parent memory knows finished is not counted: its entry went with the finish,
    // and one made again for a straggler showed job_batches for the finished run (1 of n
    // children) until the next start, which loads no finished parent's children.
    if (r.parent_run_id !== undefined && !(parent && isTerminal(parent.state))) {
      let e = parents.get(r.parent_run_id);
      if (!e) {
        parents.set(r.parent_run_id, (e = { children: new Map(), job: parent?.job_name }));
        if (!parent) dropIfFinished(r.parent_run_id, e);
      }
      e.children.set(r.run_id, r.state);
      if (isTerminal(r.state) && r.ended_at !== undefined) e.last_ended_at = Math.max(e.last_ended_at ?? 0, r.ended_at);
    }
    // A finished parent needs no counts any more.
    if (isTerminal(r.state)) parents.delete(r.run_id);
    else {
      const own = parents.get(r.run_id);
      if (own) own.job = r.job_name;
    }
  };
  const off = state.onChange(({ runs, removed }) => {
    if (removed) {
      const gone = new Set(removed);
      for (const [id, e] of parents) if (e.job !== undefined && gone.has(e.job)) parents.delete(id);
    }
    for (const r of runs) note(r);
  });

  return {
    counts(parentRunId) {
      const e = parents.get(parentRunId);
      if (!e) return undefined;
      const by_state: Partial<Record<RunState, number>> = {};
      for (const s of e.children.values()) by_state[s] = (by_state[s] ?? 0) + 1;
      return { total: e.children.size, by_state, ...(e.last_ended_at !== undefined ? { last_ended_at: e.last_ended_at } : {}) };
    },
    async load() {
      // A child read from the store counts unless memory already knows it and it is still open there.
      const loaded = (id: string, c: Run): void => {
        if (!parents.get(id)?.children.has(c.run_id) || isTerminal(c.state)) note(c);
      };
      const open = [...state.allRuns()].filter((r) => !isTerminal(r.state));
      const candidates = new Set<string>();
      for (const r of open) {
        if (r.parent_run_id !== undefined) candidates.add(r.parent_run_id);
        else candidates.add(r.run_id);
      }
      const unknown = [...candidates].filter((id) => !state.getRun(id));
      const finished = new Set<string>();
      for (let i = 0; i < unknown.length; i += LOOKUP_CHUNK)
        for (const [id, p] of await store.getRuns(unknown.slice(i, i + LOOKUP_CHUNK))) if (isTerminal(p.state)) finished.add(id);
      const parentIds = [...candidates].filter((id) => {
        const parent = state.getRun(id);
        return !(parent && isTerminal(parent.state)) && !finished.has(id);
      });
      // One pass for all of them where the store has it: one query per open run was 0.85 s of a
      // start with 30k running runs.
      if (store.childRuns) {
        for (const c of await store.childRuns(parentIds)) loaded(c.parent_run_id as string, c);
        return;
      }
      for (const id of parentIds) {
        let cursor: string | undefined;
        do {
          const page = await store.listRuns({ parent_run_id: id, limit: 1000, ...(cursor ? { cursor } : {}) });
          for (const c of page.runs) loaded(id, c);
          cursor = page.next_cursor;
        } while (cursor);
      }
    },
    stop: off,
  };
}
