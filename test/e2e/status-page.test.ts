/**
 * The status page in a real headless Chromium (Debian package `chromium`, driven by
 * playwright-core; never a browser download). Screenshots go to test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { hasBinary } from '../support/require-binary.js';
import { HOSTILE, seedEveryState } from '../support/seed-jobs.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';

const has = hasBinary('chromium', 'chromium');
const ARTIFACTS = 'test-artifacts';

describe.skipIf(!has)('status page in headless Chromium', () => {
  let a: TestAgent;
  let browser: Browser;
  let page: Page;
  const dialogs: string[] = [];
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // The seed sets detector states by hand; a timer sweep during the (real-time) browser run must not move them.
    a = await startAgent({ clock, config: { detectors: { enabled: false }, jobs: { overrides: { 'nightly-etl': { max_duration: '10m' } } } } });
    await seedEveryState(a, clock);
    clock.advance(60_000);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // A hostile name that executed would open a dialog: record any, so the test can say none came.
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  });
  afterAll(async () => {
    await browser?.close();
    await a?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}/status-page-${name}.png`, fullPage: true });

  it('shows every state as a word, with the health strip', async () => {
    await page.goto(`${a.url}/?refresh=0`);
    await expect(page.title()).resolves.toBe('Jobs · jobpulse');
    const jobs = page.locator('#jobs tbody tr');
    await expect(jobs.count()).resolves.toBe(11);
    for (const word of ['queued', 'submitting', 'running', 'succeeded', 'failed', 'cancelled', 'timed out', 'crashed']) {
      await expect(page.locator('#jobs .badge', { hasText: word }).first().isVisible()).resolves.toBe(true);
    }
    await expect(page.locator('#jobs tr[data-job="stalled"] .flag-stuck').innerText()).resolves.toBe('STUCK');
    await expect(page.locator('[data-testid=health]').innerText()).resolves.toContain('store: ok');
    await shot('jobs');
  });

  it('renders a hostile job name as text and runs nothing', async () => {
    const cell = page.locator('#jobs td.name a', { hasText: HOSTILE });
    await expect(cell.innerText()).resolves.toBe(HOSTILE);
    await cell.click();
    await page.waitForURL(/\/jobs\//);
    await expect(page.locator('h1').innerText()).resolves.toBe(`Job ${HOSTILE}`);
    await page.locator('#runs td.name a').first().click();
    await page.waitForURL(/\/runs\//);
    await expect(page.locator('[data-testid=metadata]').innerText()).resolves.toContain('</pre><script>alert(4)</script>');
    await expect(page.locator('[data-testid=labels]').innerText()).resolves.toContain('"><svg onload=alert(3)>');
    await shot('hostile-run');
    expect(dialogs).toEqual([]);
  });

  it('sorts and filters the jobs table without JavaScript-only controls', async () => {
    await page.goto(`${a.url}/?refresh=0`);
    await page.locator('input[name=name]').fill('etl');
    await page.locator('form.filters input[value=running]').check();
    await page.locator('form.filters button[type=submit]').click();
    await page.waitForURL(/state=running/);
    const names = await page.locator('#jobs tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job')));
    expect(names).toEqual(['nightly-etl']);
    await page.goto(`${a.url}/?refresh=0`);
    await page.locator('th a', { hasText: 'State' }).click();
    await page.waitForURL(/sort=state/);
    const first = await page.locator('#jobs tbody tr').first().getAttribute('data-job');
    expect(first).toBe('flaky');
  });

  it('clicks through to a job (chart, expectations) and a run, and filters its child batches', async () => {
    await page.goto(`${a.url}/?refresh=0`);
    await page.locator('#jobs td.name a', { hasText: /^nightly-etl$/ }).click();
    await page.waitForURL(/\/jobs\/nightly-etl/);
    await expect(page.locator('svg.chart rect').count()).resolves.toBe(7);
    await expect(page.locator('[data-testid=expectations]').innerText()).resolves.toContain('10m (then time out)');
    await expect(page.locator('[data-testid=success-rate]').innerText()).resolves.toContain('83.3%');
    await shot('job');

    await page.locator('#runs a', { hasText: 'etl-now' }).click();
    await page.waitForURL(/\/runs\/etl-now/);
    await expect(page.locator('#timeline tbody tr').count()).resolves.toBe(2);
    await expect(page.locator('#children tbody tr').count()).resolves.toBe(4);
    await shot('run');

    await page.locator('#children input[value=failed]').check();
    await page.locator('#children button[type=submit]').click();
    await page.waitForURL(/state=failed/);
    const rows = page.locator('#children tbody tr');
    await expect(rows.count()).resolves.toBe(1);
    await expect(rows.first().getAttribute('data-run')).resolves.toBe('b-bad');
    await shot('run-children-failed');

    await rows.first().locator('a').first().click();
    await page.waitForURL(/\/runs\/b-bad/);
    await expect(page.locator('[data-testid=error-message]').innerText()).resolves.toBe('batch 17: <img src=x onerror=alert(2)> parse error');
    await shot('batch');
    expect(dialogs).toEqual([]);
  });

  it('moves the progress bar after a push, without a reload by hand', async () => {
    await page.goto(`${a.url}/runs/etl-now?refresh=1`);
    const bar = page.locator('[data-testid=run-facts] [role=progressbar]');
    await expect(bar.getAttribute('aria-valuenow')).resolves.toBe('25');
    const before = await bar.locator('span').boundingBox();
    await a.push({ job_name: 'nightly-etl', run_id: 'etl-now', event: 'progress', progress: 80 });
    // The page's own meta refresh picks the change up; wait for it, not for a fixed time.
    await page.waitForSelector('[data-testid=run-facts] [role=progressbar][aria-valuenow="80"]', { timeout: 10_000 });
    const after = await page.locator('[data-testid=run-facts] [role=progressbar] span').boundingBox();
    expect(after?.width).toBeGreaterThan((before?.width ?? 0) * 3);
    await shot('run-progress-80');
  });
});

describe.skipIf(!has)('status page /groups in headless Chromium', () => {
  const ADMIN = 'adm1n';
  let a: TestAgent;
  let browser: Browser;
  const dialogs: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    a = await startAgent({ config: { auth: { admin_tokens: [ADMIN] } } });
    for (const [path, body] of [
      ['/metrics/job/backup/instance/db-1', '# HELP backup_bytes Bytes written.\n# TYPE backup_bytes gauge\nbackup_bytes{volume="a"} 1234\nbackup_bytes{volume="b"} 99\n'],
      [`/metrics/job/evil/instance@base64/${Buffer.from(HOSTILE).toString('base64url')}`, '# TYPE evil_total counter\nevil_total 3\n'],
    ] as const) {
      const r = await fetch(`${a.url}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/plain' }, body });
      expect(r.status).toBe(200);
    }
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await a?.stop();
  });

  it('shows the groups, and the delete button works with the admin token as Basic credentials', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, httpCredentials: { username: 'ops', password: ADMIN } });
    const page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${a.url}/groups?refresh=0`);
    await expect(page.locator('section.group').count()).resolves.toBe(2);
    await expect(page.locator('section.group h2', { hasText: HOSTILE }).innerText()).resolves.toBe(`job="evil", instance="${HOSTILE}"`);
    await page.screenshot({ path: `${ARTIFACTS}/status-page-groups.png`, fullPage: true });
    await page.locator('section.group', { hasText: 'backup_bytes' }).locator('button', { hasText: 'Delete group' }).click();
    await page.waitForURL(/\/groups\?deleted/);
    await expect(page.locator('[data-testid=notice]').innerText()).resolves.toBe('Group deleted.');
    await expect(page.locator('section.group').count()).resolves.toBe(1);
    await page.screenshot({ path: `${ARTIFACTS}/status-page-groups-deleted.png`, fullPage: true });
    expect(dialogs).toEqual([]);
    await context.close();
  });
});
