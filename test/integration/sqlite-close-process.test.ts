/**
 * `store.close()` finishes in a process that has nothing else to do: the store's threads are
 * unref'd while idle (an idle store never holds a process open), and a close that left them
 * so let Node exit before the close had ended (a script awaiting it exited with code 13,
 * "unsettled top-level await", without its last checkpoint and with the WAL left behind).
 * Runs the built store (dist/) in a child process, as a script embedding it would.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/temp-dir.js';

const built = existsSync('dist/store/sqlite/sqlite-store.js');
if (!built && process.env.CI === 'true') throw new Error('dist/ missing: run `npm run build` (npm test does it in pretest)');
if (!built) console.warn('skipping the store close process test: run `npm run build` first');

describe.skipIf(!built)('SQLite store close in a process with nothing else to do', () => {
  it('ends with the store closed and the WAL folded back, after a commit and a statistics read', () => {
    const dir = tempDir();
    try {
      const db = join(dir.path, 'a.db');
      const store = pathToFileURL(resolve('dist/store/sqlite/sqlite-store.js')).href;
      const script = `
        import { createSqliteStore } from ${JSON.stringify(store)};
        const store = createSqliteStore({ path: ${JSON.stringify(db)}, durability: 'process' });
        const e = { event_id: 'e1', job_name: 'a', run_id: 'r1', event: 'started', source: 'push', timestamp: 1, received_at: 1 };
        const run = { run_id: 'r1', job_name: 'a', state: 'running', source: 'push', created_at: 1, started_at: 1, updated_at: 1 };
        await store.commit({ events: [{ event: e, applied: true, keyed: true }], runs: [run], jobs: [], maxJobs: 10 });
        await store.runStats({ since: 0, until: 2 });
        await store.close();
        console.log('closed');
      `;
      const file = join(dir.path, 'close.mjs');
      writeFileSync(file, script);
      const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
      expect(out.trim()).toBe('closed');
      expect(existsSync(`${db}-wal`)).toBe(false);
    } finally {
      dir.cleanup();
    }
  });
});
