/**
 * A group re-pushed at the moment it expires: the push's 200 must stand, in memory and in
 * the store. Expiry runs before each scrape; it deleted a group whose re-push was prepared
 * and being written, after that write in the store, while the push then made the group
 * visible again in memory: the scrape showed the group, a restart had lost it.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { startAgent } from '../support/start-agent.js';
import { tempDir } from '../support/temp-dir.js';

const values = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('ttl_value{'));

describe('Pushgateway group TTL and a push at expiry', () => {
  it('keeps an acknowledged re-push of an expiring group, also across a restart', async () => {
    const dir = tempDir();
    const clock = new ManualClock(Date.UTC(2026, 11, 7, 12));
    const config = { pushgateway: { job_ttl: { ttl: '1h' } } };
    let a = await startAgent({ clock, config, dir: dir.path });
    try {
      expect((await fetch(`${a.url}/metrics/job/ttl`, { method: 'PUT', body: 'ttl_value 1\n' })).status).toBe(200);
      clock.advance(2 * 3_600_000);
      // Another connection holds SQLite's write lock: the re-push is read, checked and its
      // write waits on the lock when the scrape (which expires groups) comes.
      const admin = new Database(`${dir.path}/jobpulse.db`);
      admin.exec('BEGIN IMMEDIATE');
      const repush = fetch(`${a.url}/metrics/job/ttl`, { method: 'PUT', body: 'ttl_value 2\n' });
      await new Promise((r) => setTimeout(r, 200));
      const scrape = a.get('/metrics');
      await new Promise((r) => setTimeout(r, 200));
      admin.exec('COMMIT');
      admin.close();
      expect((await repush).status).toBe(200);
      await scrape;
      expect(values((await a.get('/metrics')).text)).toEqual(['ttl_value{instance="",job="ttl"} 2']);
      await a.agent.stop();
      a = await startAgent({ clock, config, dir: dir.path });
      expect(values((await a.get('/metrics')).text)).toEqual(['ttl_value{instance="",job="ttl"} 2']);
    } finally {
      await a.stop();
      dir.cleanup();
    }
  });

  it('forgets the lifecycle-bridge entry of every group that expires (memory stays bounded by live groups)', async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 7, 12));
    const a = await startAgent({ clock, config: { pushgateway: { job_ttl: { pod: '1h' } } } });
    try {
      const api = a.agent.pushgateway;
      if (!api) throw new Error('pushgateway API off');
      for (let i = 0; i < 20; i++) {
        const body = `job_last_success_unixtime ${Math.floor(clock.now() / 1000) - 60}\n`;
        expect((await fetch(`${a.url}/metrics/job/pod/instance/pod-${i}`, { method: 'PUT', body })).status).toBe(200);
      }
      expect(api.bridgedGroups()).toBe(20);
      clock.advance(2 * 3_600_000);
      expect(await api.expire()).toBe(20);
      expect(api.bridgedGroups()).toBe(0);
    } finally {
      await a.stop();
    }
  });
});
