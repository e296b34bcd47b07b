import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';

describe('status page after a store outage', () => {
  let a: TestAgent;
  beforeAll(async () => {
    a = await startAgent();
  });
  afterAll(() => a.stop());

  it('loads its failure counts again on the next view once the store answers (it kept the failed load for good)', async () => {
    await a.push({ job_name: 'broken', event: 'failed' });
    const store = a.agent.store;
    const original = store.endedRuns?.bind(store);
    expect(original).toBeDefined();
    store.endedRuns = () => {
      store.endedRuns = original;
      return Promise.reject(new StoreUnavailableError('store unavailable: the first load fails'));
    };
    const down = await fetch(`${a.url}/`);
    expect(down.status).toBe(503);
    await down.arrayBuffer();
    const up = await fetch(`${a.url}/`);
    expect(up.status).toBe(200);
    expect(await up.text()).toContain('broken');
  });
});
