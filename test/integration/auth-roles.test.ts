/**
 * Which token opens what: each role (read, write, admin) is opened or closed by its own
 * token list, so turning on the admin endpoints leaves pushes and pings open.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnAgent } from '../support/spawn-agent.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { tempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';

const send = (a: TestAgent, method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
  fetch(`${a.url}${path}`, { method, headers, body });

describe('auth roles', () => {
  let a: TestAgent | undefined;
  afterEach(async () => {
    await a?.stop();
    a = undefined;
  });

  it('with admin tokens only, pushes, pings and Pushgateway pushes stay open; deleting a job needs the admin token', async () => {
    a = await startAgent({ config: { auth: { admin_tokens: ['adm1n'] } } });
    expect((await a.push({ job_name: 'open', event: 'started' })).status).toBe(200);
    expect((await send(a, 'GET', '/ping/pinged/start')).status).toBe(200);
    expect((await send(a, 'PUT', '/metrics/job/gw', 'gw_last_success_time_seconds 1\n')).status).toBe(200);
    expect((await a.get('/api/v1/jobs/open')).status).toBe(200);
    expect((await send(a, 'DELETE', '/api/v1/jobs/open')).status).toBe(401);
    expect((await send(a, 'DELETE', '/api/v1/jobs/open', undefined, { authorization: 'Bearer adm1n' })).status).toBe(200);
  });

  it('with write and admin tokens, a push needs one of them', async () => {
    a = await startAgent({ config: { auth: { write_tokens: ['wr1te'], admin_tokens: ['adm1n'] } } });
    const ev = { job_name: 'guarded', event: 'started' };
    expect((await a.push(ev)).status).toBe(401);
    expect((await send(a, 'GET', '/ping/guarded/start')).status).toBe(401);
    expect((await a.push(ev, { authorization: 'Bearer wr1te' })).status).toBe(200);
    expect((await a.push(ev, { authorization: 'Bearer adm1n' })).status).toBe(200);
    expect((await send(a, 'DELETE', '/api/v1/jobs/guarded', undefined, { authorization: 'Bearer wr1te' })).status).toBe(401);
  });

  it('the start-up log line says which roles need a token', async () => {
    const dir = tempDir();
    const agent = await spawnAgent({ db: join(dir.path, 'jobpulse.db'), env: { JOBPULSE_ADMIN_TOKENS: 'adm1n' } });
    try {
      const line = await waitFor(() => agent.output().split('\n').find((l) => l.includes('"msg":"jobpulse started"')), { what: 'the start-up line' });
      expect(JSON.parse(line).auth).toEqual({ write: 'open', read: 'open', admin: 'token' });
      const r = await fetch(`${agent.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"job_name":"x","event":"started"}' });
      expect(r.status).toBe(200);
    } finally {
      agent.child.kill('SIGKILL');
      await agent.exited;
      dir.cleanup();
    }
  });
});
