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

describe('status page /groups with many groups', () => {
  let a: TestAgent;
  beforeAll(async () => {
    a = await startAgent();
    for (let i = 0; i < 120; i++) {
      const r = await fetch(`${a.url}/metrics/job/many/instance/i${String(i).padStart(3, '0')}`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: `# TYPE many_value gauge\nmany_value ${i}\n` });
      expect(r.status).toBe(200);
    }
    // A refused push (a timestamp) is recorded on its group: that group is failing.
    expect((await fetch(`${a.url}/metrics/job/many/instance/i007`, { method: 'PUT', body: 'many_value 1 1234\n' })).status).toBe(400);
  });
  afterAll(() => a.stop());

  const page = (q: string) => fetch(`${a.url}/groups${q}`).then((r) => r.text());
  const shown = (html: string): string[] => [...html.matchAll(/<h2>job=&quot;many&quot;, instance=&quot;(i\d+)&quot;<\/h2>/g)].map((m) => m[1] as string);

  it('shows a page at a time, in label order, with a pager', async () => {
    const first = await page('');
    expect(shown(first)).toEqual(Array.from({ length: 50 }, (_, i) => `i${String(i).padStart(3, '0')}`));
    expect(first).toContain('1–50 of 120');
    expect(first).toContain('href="/groups?page=2"');
    const third = await page('?page=3');
    expect(shown(third)).toEqual(Array.from({ length: 20 }, (_, i) => `i${100 + i}`));
    expect(third).toContain('101–120 of 120');
    // Past the end: the last page, as the jobs table does.
    expect(shown(await page('?page=99'))).toEqual(shown(third));
  });

  it('filters by label text and by failing pushes, and counts the failing groups', async () => {
    expect(shown(await page('?labels=' + encodeURIComponent('instance="i01')))).toEqual(Array.from({ length: 10 }, (_, i) => `i01${i}`));
    const failing = await page('?failing=1');
    expect(shown(failing)).toEqual(['i007']);
    expect(failing).toContain('120 groups · <a href="/groups?failing=1">1 failing</a>');
    expect(await page('?labels=nothing-like-this')).toContain('No groups match.');
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
