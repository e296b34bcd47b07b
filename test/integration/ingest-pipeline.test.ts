/**
 * The pipelined writer (src/ingest/ingest.ts with SQLite's writer thread): a batch reduced on
 * top of one that then fails to commit must fail with it, and what comes after starts from
 * what is durable. The failure is a real one: a SQLite trigger aborts the commit of one run.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventDraft } from '../../src/domain/job-event.js';
import { createIngest } from '../../src/ingest/ingest.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { createLogger } from '../../src/runtime/logger.js';
import { JobState } from '../../src/state/job-state.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from '../support/temp-dir.js';

const draft = (run_id: string, event: EventDraft['event'], extra: Partial<EventDraft> = {}): EventDraft => ({ job_name: 'etl', run_id, event, source: 'push', ...extra });

describe('pipelined ingest on SQLite', () => {
  let store: Store | undefined;
  let cleanup: (() => void) | undefined;
  afterEach(async () => {
    await store?.close();
    cleanup?.();
    store = undefined;
  });

  const open = (wrap: (s: Store) => Store = (s) => s) => {
    const dir = tempDir();
    cleanup = dir.cleanup;
    const path = `${dir.path}/p.db`;
    store = createSqliteStore({ path, durability: 'process' });
    expect(store.pipeline).toBe(2);
    // Another connection adds a trigger that aborts any commit carrying an event of run "boom".
    const admin = new Database(path);
    admin.exec(`CREATE TRIGGER fail_boom BEFORE INSERT ON events WHEN NEW.run_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END;`);
    admin.close();
    const state = new JobState();
    const ingest = createIngest({
      store: wrap(store),
      state,
      clock: new ManualClock(Date.UTC(2026, 10, 23)),
      logger: createLogger({ level: 'silent' }),
      maxBatch: 2,
      maxPending: 1000,
      maxJobs: 100,
    });
    return { ingest, state, store };
  };

  it('a batch reduced on a failed one fails too; the next starts from what is durable', async () => {
    const { ingest, state, store } = open();
    // Queued in one tick with max_batch 2: the first two events are one batch, the progress
    // (which only makes sense on top of "x started") is the next, reduced while the first commits.
    const first = ingest.ingest([draft('x', 'started'), draft('boom', 'started')]);
    const second = ingest.ingest([draft('x', 'progress', { progress: 50 })]);
    await expect(first).rejects.toThrow(/boom refused/);
    await expect(second).rejects.toThrow(/earlier commit/);
    expect(state.getRun('x')).toBeUndefined();
    expect(await store.listEvents('x')).toEqual([]);

    // The writer has moved to a new epoch: later batches commit and build on durable state only.
    const [later] = await ingest.ingest([draft('x', 'progress', { progress: 60 })]);
    expect(later).toMatchObject({ run_id: 'x', result: 'applied', state: 'running' });
    expect(state.getRun('x')).toMatchObject({ event_count: 1, progress: 60 });
    expect((await store.listEvents('x')).map((e) => e.progress)).toEqual([60]);
    expect(ingest.healthy()).toBe(true);
  });

  it('pipelined batches that succeed are applied in order, each on top of the one before', async () => {
    const { ingest, state, store } = open();
    const results = await Promise.all([
      ingest.ingest([draft('y', 'started'), draft('y', 'progress', { progress: 10 })]),
      ingest.ingest([draft('y', 'progress', { progress: 20 }), draft('y', 'progress', { progress: 30 })]),
      ingest.ingest([draft('y', 'succeeded', { event_id: 'fin' })]),
      ingest.ingest([draft('y', 'succeeded', { event_id: 'fin' })]),
    ]);
    expect(results.flat().map((r) => r.result)).toEqual(['applied', 'applied', 'applied', 'applied', 'applied', 'duplicate']);
    expect(state.getRun('y')).toMatchObject({ state: 'succeeded', event_count: 5, progress: 100 });
    expect(state.getJob('etl')?.runs_total.succeeded).toBe(1);
    expect((await store.listEvents('y')).map((e) => e.event)).toEqual(['started', 'progress', 'progress', 'progress', 'succeeded']);
  });

  it('results: false resolves with an empty list once the events are durable, next to callers that take results', async () => {
    const { ingest, state, store } = open();
    const [quiet, loud] = await Promise.all([
      ingest.ingest([draft('q', 'started'), draft('q', 'succeeded')], { results: false }),
      ingest.ingest([draft('l', 'started')]),
    ]);
    expect(quiet).toEqual([]);
    expect(loud).toMatchObject([{ run_id: 'l', result: 'applied', state: 'running' }]);
    expect(await store.getRun('q')).toMatchObject({ state: 'succeeded', event_count: 2 });
    expect((await store.listEvents('q')).map((e) => e.event)).toEqual(['started', 'succeeded']);
  });

  it('a batch still waiting for its lookups keeps the next from reducing, even when the one before it finishes', async () => {
    // The real store, with run lookups slowed down: batch 2 names a run that is not in memory,
    // so it waits on the store while batch 1's commit completes.
    const { ingest, state, store } = open((real) => Object.assign(Object.create(real) as Store, {
      getRuns: async (ids: string[]) => {
        await new Promise((r) => setTimeout(r, 50));
        return real.getRuns(ids);
      },
    }));
    const results = await Promise.all([
      ingest.ingest([draft('x', 'started')]),
      ingest.ingest([draft('x', 'progress', { progress: 50 }), draft('ghost', 'heartbeat')]),
      ingest.ingest([draft('x', 'progress', { progress: 60 })]),
    ]);
    expect(results.flat().map((r) => r.result)).toEqual(['applied', 'applied', 'applied', 'applied']);
    // Batch 3 was reduced and committed after batch 2: the log keeps the order they arrived in.
    expect((await store.listEvents('x')).map((e) => e.progress ?? e.event)).toEqual(['started', 50, 60]);
    expect(state.getRun('x')).toMatchObject({ event_count: 3, progress: 60 });
  });
});
