/**
 * Page frame and the small pieces every page shares. Server-rendered with hono's JSX,
 * which escapes every interpolated string: user data (job names, labels, error messages,
 * metadata) is only ever passed as children or attribute values, never through raw().
 */
import type { Child } from 'hono/jsx';
import type { RunState } from '../../domain/run.js';
import { fmtPercent } from './format.js';

export interface HealthCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

/**
 * Static and free of `<`, `>`, `&` and quotes, so JSX's escaping leaves it intact without raw().
 * Colours are always paired with the state's word.
 */
const CSS = `
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header a{color:#fff;text-decoration:none;font-weight:600}
header nav a{font-weight:400;margin-right:12px}
.health{display:flex;gap:8px;flex-wrap:wrap;margin-left:auto;font-size:12px}
.check{padding:2px 8px;border-radius:10px;background:#2da44e}
.check.bad{background:#cf222e}
main{padding:16px}
h1{font-size:20px;margin:0 0 12px;overflow-wrap:anywhere}
h2{font-size:16px;margin:20px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d0d7de}
th,td{padding:4px 8px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600;white-space:nowrap}
th a{color:inherit}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.name{overflow-wrap:anywhere;max-width:28em}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
.s-queued{background:#6e7781}.s-submitting{background:#8250df}.s-running{background:#0969da}
.s-succeeded{background:#1a7f37}.s-failed{background:#cf222e}.s-cancelled{background:#57606a}
.s-timed_out{background:#bc4c00}.s-crashed{background:#82071e}.s-none{background:#afb8c1}
.flag{display:inline-block;padding:0 6px;margin-left:4px;border-radius:4px;font-size:11px;font-weight:700;border:1px solid}
.flag-stuck{color:#9a6700;border-color:#d4a72c;background:#fff8c5}
.flag-overdue{color:#bc4c00;border-color:#fb8f44;background:#fff1e5}
.bar{display:inline-block;width:120px;height:10px;background:#eaeef2;border-radius:5px;overflow:hidden;vertical-align:middle}
.bar span{display:block;height:100%;background:#0969da}
.muted{color:#656d76}
form.filters{display:flex;gap:12px;align-items:center;flex-wrap:wrap;margin-bottom:12px;background:#fff;border:1px solid #d0d7de;padding:8px}
form.filters label{white-space:nowrap}
.pager{margin:8px 0;display:flex;gap:12px;align-items:center}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:#fff;border:1px solid #d0d7de;padding:8px 12px;margin:0}
dl.facts dt{font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere}
pre{background:#fff;border:1px solid #d0d7de;padding:8px;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
pre.error{border-color:#cf222e;background:#ffebe9}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px}
section.group{margin-bottom:24px}
form.delete{margin-top:6px}
svg.chart{background:#fff;border:1px solid #d0d7de;width:100%;max-width:900px;height:auto}
`;

export function Layout(props: { title: string; health: HealthCheck[]; refresh: number; children?: Child }) {
  const ready = props.health.every((h) => h.ok);
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        {props.refresh > 0 ? <meta http-equiv="refresh" content={String(props.refresh)} /> : null}
        <title>{props.title} · jobpulse</title>
        <style>{CSS}</style>
      </head>
      <body>
        <header>
          <a href="/">jobpulse</a>
          <nav>
            <a href="/">Jobs</a>
            <a href="/groups">Groups</a>
            <a href="/metrics">Metrics</a>
            <a href="/readyz">Ready</a>
          </nav>
          <div class="health" data-testid="health" title={ready ? 'agent ready' : 'agent not ready'}>
            <span class={`check${ready ? '' : ' bad'}`}>{ready ? 'ready' : 'NOT READY'}</span>
            {props.health.map((h) => (
              <span class={`check${h.ok ? '' : ' bad'}`} title={h.detail ?? ''}>
                {h.name}: {h.ok ? 'ok' : `failing${h.detail ? ` (${h.detail})` : ''}`}
              </span>
            ))}
          </div>
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

export const StateBadge = (props: { state: RunState | undefined }) => (
  <span class={`badge s-${props.state ?? 'none'}`} data-state={props.state ?? 'none'}>
    {props.state ? props.state.replace('_', ' ') : 'no runs'}
  </span>
);

export const Flags = (props: { stuck?: boolean; overdue?: boolean }) => (
  <>
    {props.stuck ? <span class="flag flag-stuck" title="no progress or heartbeat for stuck_after">STUCK</span> : null}
    {props.overdue ? <span class="flag flag-overdue" title="running longer than expected">OVERDUE</span> : null}
  </>
);

/** A bar plus the number: the width alone would be colour/shape only. */
export const ProgressBar = (props: { progress: number | undefined }) =>
  props.progress === undefined ? (
    <span class="muted">—</span>
  ) : (
    <span class="progress" data-progress={String(props.progress)}>
      <span class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow={String(props.progress)}>
        <span style={`width:${Math.max(0, Math.min(100, props.progress))}%`} />
      </span>{' '}
      {fmtPercent(props.progress / 100)}
    </span>
  );

export const jobHref = (name: string): string => `/jobs/${encodeURIComponent(name)}`;
export const runHref = (id: string): string => `/runs/${encodeURIComponent(id)}`;

/** Same path with some query keys replaced (undefined removes the key). */
export function withQuery(path: string, base: URLSearchParams, changes: Record<string, string | string[] | undefined>): string {
  const q = new URLSearchParams(base);
  for (const [k, v] of Object.entries(changes)) {
    q.delete(k);
    if (Array.isArray(v)) for (const x of v) q.append(k, x);
    else if (v !== undefined) q.set(k, v);
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export function ErrorPage(props: { title: string; message: string; health: HealthCheck[] }) {
  return (
    <Layout title={props.title} health={props.health} refresh={0}>
      <h1>{props.title}</h1>
      <p>{props.message}</p>
      <p>
        <a href="/">Back to all jobs</a>
      </p>
    </Layout>
  );
}
