import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';

const ADMIN = 'adm1n';
const auth = { authorization: `Bearer ${ADMIN}` };
const HOSTILE = '<script>alert(5)</script>';

/** `/groups`: the Pushgateway groups as HTML, with delete behind the admin token. */
describe('status page /groups', () => {
  let a: TestAgent;
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  beforeAll(async () => {
    a = await startAgent({ clock, config: { auth: { admin_tokens: [ADMIN] } } });
    const put = async (path: string, body: string) => {
      const r = await fetch(`${a.url}${path}`, { method: 'PUT', headers: { ...auth, 'content-type': 'text/plain' }, body });
      expect(r.status).toBe(200);
    };
    await put('/metrics/job/backup/instance/db-1', '# TYPE backup_bytes gauge\nbackup_bytes{volume="a"} 1234\n');
    await put(`/metrics/job/evil/instance@base64/${Buffer.from(HOSTILE).toString('base64url')}`, `evil_metric{note="${'</td><b>x</b>'}"} 1\n`);
  });
  afterAll(() => a.stop());

  const groups = () => fetch(`${a.url}/groups`).then(async (r) => ({ status: r.status, html: await r.text() }));
  const del = (key: string, headers: Record<string, string> = {}) =>
    fetch(`${a.url}/groups/delete`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ key }).toString(),
    });
  const keyOf = (html: string, job: string): string => {
    const m = new RegExp(`data-group="([^"]*&quot;job&quot;,&quot;${job}&quot;[^"]*)"`).exec(html);
    return (m?.[1] ?? '').replaceAll('&quot;', '"');
  };

  it('lists groups with labels, metrics and push time, escaping what was pushed', async () => {
    const { status, html } = await groups();
    expect(status).toBe(200);
    expect(html).toContain('job=&quot;backup&quot;, instance=&quot;db-1&quot;');
    expect(html).toContain('<td class="name">backup_bytes</td><td>gauge</td><td class="name">volume=&quot;a&quot;</td><td class="num">1234</td>');
    expect(html).toContain('2026-11-23 12:00:00Z');
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain('&lt;script&gt;alert(5)&lt;/script&gt;');
    expect(html).not.toContain('</td><b>x</b>');
    expect(html).toContain('Delete group');
  });

  it('deletes a group only with the admin token, from the same site', async () => {
    const key = keyOf((await groups()).html, 'backup');
    expect(key).toContain('backup');
    const none = await del(key);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Basic');
    expect((await del(key, { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await del(key, { ...auth, origin: 'http://evil.example' })).status).toBe(403);
    expect((await groups()).html).toContain('job=&quot;backup&quot;');

    const ok = await del(key, { authorization: `Basic ${Buffer.from(`ops:${ADMIN}`).toString('base64')}` });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/groups?deleted');
    expect((await groups()).html).not.toContain('job=&quot;backup&quot;');
    const api = (await (await fetch(`${a.url}/api/v1/metrics`)).json()) as { data: { labels: Record<string, string> }[] };
    expect(api.data.map((g) => g.labels.job)).toEqual(['evil']);
    expect((await del(key, auth)).status).toBe(404);
  });
});

describe('status page /groups without admin tokens or without the Pushgateway API', () => {
  it('shows no delete buttons and refuses deletes when no admin token is configured', async () => {
    const a = await startAgent();
    try {
      await fetch(`${a.url}/metrics/job/x`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'x_metric 1\n' });
      const html = await (await fetch(`${a.url}/groups`)).text();
      expect(html).toContain('job=&quot;x&quot;');
      expect(html).not.toContain('Delete group');
      const r = await fetch(`${a.url}/groups/delete`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'key=x' });
      expect(r.status).toBe(401);
    } finally {
      await a.stop();
    }
  });

  it('answers 404 when the Pushgateway API is disabled', async () => {
    const a = await startAgent({ config: { pushgateway: { enabled: false } } });
    try {
      expect((await fetch(`${a.url}/groups`)).status).toBe(404);
    } finally {
      await a.stop();
    }
  });
});
