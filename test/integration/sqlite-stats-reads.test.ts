/**
 * SQLite's window statistics run on the checkpointer thread, one read at a time (its
 * checkpoints go in between), with a bounded queue: a burst of /api/v1/stats requests gets
 * 503 "overloaded" past it instead of holding checkpoints off while the WAL grows.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OverloadedError } from '../../src/domain/errors.js';
import { MAX_WAITING_READS } from '../../src/store/sqlite/checkpointer.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store, WindowSummary } from '../../src/store/store.js';
import { StoreWriter } from '../support/store-writer.js';
import { tempDir } from '../support/temp-dir.js';

const T0 = Date.UTC(2026, 11, 1);

describe('SQLite statistics reads on the checkpointer thread', () => {
  let store: Store;
  let cleanup: () => void;
  beforeEach(async () => {
    const dir = tempDir();
    cleanup = dir.cleanup;
    store = createSqliteStore({ path: `${dir.path}/t.db`, durability: 'process' });
    const w = new StoreWriter();
    const specs: Parameters<StoreWriter['batch']>[0] = [];
    for (let i = 0; i < 50; i++) specs.push({ run: `r${i}`, job: `j${i % 3}`, event: 'started', at: T0 + i }, { run: `r${i}`, job: `j${i % 3}`, event: i % 5 ? 'succeeded' : 'failed', at: T0 + 1000 + i * 10 });
    await store.commit(w.batch(specs));
  });
  afterEach(async () => {
    await store.close();
    cleanup();
  });

  it('answers a burst up to its queue bound, refuses the rest as overloaded, then answers again', async () => {
    const q = { since: T0, until: T0 + 10_000 };
    const settled = await Promise.allSettled(Array.from({ length: MAX_WAITING_READS * 3 }, () => (store.runStats as NonNullable<Store['runStats']>)(q)));
    const answers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const refusals = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.length).toBeLessThanOrEqual(MAX_WAITING_READS + 1);
    expect(refusals.length).toBe(settled.length - answers.length);
    for (const e of refusals) expect(e).toBeInstanceOf(OverloadedError);
    const first = answers[0] as WindowSummary;
    expect(first.overall).toMatchObject({ runs: 50, succeeded: 40, failed: 10 });
    for (const a of answers) expect(a).toEqual(first);
    // The queue drained: the next read is answered.
    expect((await (store.runStats as NonNullable<Store['runStats']>)(q)).overall.runs).toBe(50);
  });
});
