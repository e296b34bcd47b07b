/**
 * "." and ".." as job names: a URL resolves such a path segment away, so /api/v1/jobs/%2E%2E
 * never reaches the job (it could not even be deleted). Every way in refuses them.
 */
import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../support/start-agent.js';

const DOTS = 'must not be "." or ".." (URLs resolve such a path segment away, so the REST API could never address it)';

/** Sends the path exactly as written: fetch and curl would resolve the dot segments first. */
const rawRequest = (url: string, method: string, path: string, body?: string): Promise<{ status: number; text: string }> =>
  new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, path }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });

describe('job names "." and ".."', () => {
  let a: TestAgent;
  beforeEach(async () => {
    a = await startAgent();
  });
  afterEach(() => a.stop());
  const jobNames = async () => (await a.get('/api/v1/jobs')).body.jobs.map((j: { job_name: string }) => j.job_name);

  it.each(['.', '..'])('/push refuses %j with 400 on job_name', async (name) => {
    const res = await a.push({ job_name: name, event: 'started' });
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([{ path: 'job_name', message: DOTS }]);
    expect(await jobNames()).toEqual([]);
  });

  it('/push refuses them as run ids too (/api/v1/runs/.. could not reach the run)', async () => {
    const res = await a.push({ job_name: 'ok', run_id: '..', event: 'started' });
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([{ path: 'run_id', message: DOTS }]);
  });

  // The URL would resolve the segment away before routing: /ping/%2E/fail was a success ping of
  // the job "fail", /ping/%2E%2E/start a 404 for GET /start.
  it.each(['/ping/%2E%2E/start', '/ping/%2e', '/ping/%2E/fail', '/ping/./fail', '/ping/../0', '/api/v1/jobs/%2E%2E', '/ping/x/..?token=t'])(
    'refuses %s with 400 naming the dot segment',
    async (path) => {
      const res = await rawRequest(a.url, 'GET', path);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text)).toMatchObject({ code: 'validation_failed', issues: [{ path: 'url', message: expect.stringContaining('job names "." and ".." are not allowed') }] });
      expect(await jobNames()).toEqual([]);
    },
  );

  it('still serves names that merely hold dots', async () => {
    expect((await rawRequest(a.url, 'GET', '/ping/...')).status).toBe(200);
    expect((await rawRequest(a.url, 'GET', '/ping/.hidden/start')).status).toBe(200);
    expect((await a.push({ job_name: 'a..b', event: 'started' })).status).toBe(200);
    expect((await rawRequest(a.url, 'GET', '/api/v1/jobs/a..b')).status).toBe(200);
    expect(await jobNames()).toEqual(['...', '.hidden', 'a..b']);
  });

  it('a Pushgateway push for job ".." is kept but the lifecycle bridge makes no job of it', async () => {
    // job@base64 "Lg" is ".", "Li4" is "..": the only way a client sends such a job label.
    const put = await rawRequest(a.url, 'PUT', '/metrics/job@base64/Li4', 'backup_last_success_time_seconds 1\n');
    expect(put.status).toBe(200);
    expect(await jobNames()).toEqual([]);
    expect((await a.get('/metrics')).text).toContain('backup_last_success_time_seconds{instance="",job=".."} 1');
    expect(a.logs.some((l) => l.msg === 'lifecycle bridge: job name refused; the push is kept without runs' && l.problem === DOTS)).toBe(true);
  });
});
