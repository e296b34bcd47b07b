import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../support/start-agent.js';

describe('/readyz', () => {
  let a: TestAgent;
  let pings = 0;
  beforeAll(async () => {
    a = await startAgent();
    const store = a.agent.store;
    const ping = store.ping.bind(store);
    store.ping = () => {
      pings += 1;
      return ping();
    };
  });
  afterAll(() => a.stop());

  it('probes the store once per request, also when the writer check must probe it too', async () => {
    expect((await a.get('/readyz')).status).toBe(200);
    expect(pings).toBe(1);

    // A failed commit: the writer check then asks the store too, since the store can be
    // written again; both checks share the one probe (a committed write each).
    const store = a.agent.store;
    const commit = store.commit.bind(store);
    store.commit = () => {
      store.commit = commit;
      return Promise.reject(new Error('disk I/O error'));
    };
    expect((await a.push({ job_name: 'readiness', event: 'started' })).status).toBe(503);
    pings = 0;
    const res = await a.get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
      ['store', true],
      ['writer', true],
    ]);
    expect(pings).toBe(1);
  });
});
