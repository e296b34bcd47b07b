/**
 * Ping URLs for cron and shell scripts (healthchecks.io style):
 *   GET|POST /ping/<job>              the run succeeded
 *   GET|POST /ping/<job>/start        a run started
 *   GET|POST /ping/<job>/fail         the run failed
 *   GET|POST /ping/<job>/<0-255>      finished with that exit status (0 = success)
 *   ?rid=<run_id>                     pairs start and finish when runs overlap
 *   ?token=<write token>              instead of `Authorization: Bearer`, for cron lines
 *                                     that cannot set headers easily
 * A POST body of any size is taken; its first `ping.max_log_bytes` bytes are kept as the run's
 * log excerpt (`metadata.log_excerpt`), with a marker saying how many bytes were dropped. Without `rid`, a finish
 * joins the job's unfinished run (ingest's usual rule), so the duration is start → finish.
 * Answers `OK` (text) so `curl -fsS -m 10 --retry 5 URL` works unchanged.
 */
import { Hono } from 'hono';
import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from '../config/schema.js';
import { RunOfAnotherJobError, ValidationError } from '../domain/errors.js';
import type { EventDraft } from '../domain/job-event.js';
import type { IngestFn } from '../ingest/ingest.js';
import type { Auth } from '../http/auth.js';
import { decodePathSegment } from '../http/path-segment.js';
import { readBodyHead } from '../http/read-body.js';
import { nameProblem } from '../ingest/validate.js';

/** Where a cut at `cut` bytes falls: before a UTF-8 sequence the cut would split (decoded, its part became U+FFFD). */
function utf8Boundary(bytes: Uint8Array, cut: number): number {
  let i = cut;
  while (i > 0 && cut - i < 3 && ((bytes[i - 1] as number) & 0xc0) === 0x80) i -= 1;
  if (i === 0) return cut;
  const lead = bytes[i - 1] as number;
  const length = lead >= 0xf8 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return i - 1 + length > cut ? i - 1 : cut;
}

/**
 * The log excerpt of a ping body: its first `maxBytes` bytes as sent (cut before a character
 * they would split), as text, with a marker counting the bytes of the body left out. Sizes were
 * taken from the text re-encoded, where each byte that is not UTF-8 is three bytes of U+FFFD: a
 * 5,000-byte body was "truncated" under a 10,000-byte limit, and the count was off by that much.
 */
export const logExcerpt = (head: Uint8Array, total: number, maxBytes: number): string => {
  const cut = total <= maxBytes ? head.byteLength : utf8Boundary(head, Math.min(maxBytes, head.byteLength));
  const text = Buffer.from(head.buffer, head.byteOffset, cut).toString('utf8');
  return cut >= total ? text : `${text}\n[jobpulse: log truncated, ${total - cut} more bytes dropped]`;
};

/**
 * The job segment of `/ping/<job>/…`, percent-decoded strictly. Hono's param keeps a segment
 * it cannot decode as it was typed, so `/ping/%ZZ` made a job named "%ZZ" (and `%FF`, bytes
 * that are not UTF-8, one named "%FF"); the Pushgateway API refuses such a path with 400.
 */
const jobFromPath = (url: string): string => decodePathSegment(new URL(url).pathname.split('/')[2] ?? '');

const RUN_ID = /^[A-Za-z0-9._:-]{1,200}$/;

export function createPingRoutes(deps: {
  ingest: IngestFn;
  auth: Auth;
  limits: Config['limits'];
  maxLogBytes: number;
  observer?: { ping(kind: string): void };
}): Hono {
  const app = new Hono();

  async function handle(c: Context, action: string | undefined): Promise<Response> {
    const job_name = jobFromPath(c.req.url);
    const problem = nameProblem(job_name, deps.limits.max_job_name_length);
    if (problem !== undefined) throw new ValidationError([{ path: 'job_name', message: problem }]);
    let kind: string;
    const draft: EventDraft = { job_name, event: 'succeeded', source: 'ping' };
    if (action === undefined) kind = 'success';
    else if (action === 'start') {
      kind = 'start';
      draft.event = 'started';
    } else if (action === 'fail') {
      kind = 'fail';
      draft.event = 'failed';
    } else if (/^\d{1,3}$/.test(action) && Number(action) <= 255) {
      kind = 'exit_status';
      draft.exit_code = Number(action);
      draft.event = draft.exit_code === 0 ? 'succeeded' : 'failed';
    } else throw new ValidationError([{ path: 'url', message: `expected start, fail or an exit status 0-255, got ${JSON.stringify(action)}` }]);
    const rid = c.req.query('rid');
    if (rid !== undefined) {
      if (!RUN_ID.test(rid)) throw new ValidationError([{ path: 'rid', message: 'expected 1-200 characters of A-Z a-z 0-9 . _ : -' }]);
      draft.run_id = rid;
    }
    if (c.req.method === 'POST') {
      // Any size is taken: the body is the job's log, and refusing it (413 over
      // limits.max_body_bytes) lost the run's outcome. Only the excerpt is kept in memory.
      const { head, total } = await readBodyHead(c, deps.maxLogBytes);
      if (total > 0 && deps.maxLogBytes > 0) draft.metadata = { log_excerpt: logExcerpt(head, total, deps.maxLogBytes) };
    }
    const [r] = await deps.ingest([draft]);
    deps.observer?.ping(kind);
    // Answered 200 "OK", the ping would look delivered; 409 fails `curl -f` where a person sees it.
    if (r?.run_job_name !== undefined) throw new RunOfAnotherJobError(r.reason ?? `run ${r.run_id} belongs to job ${JSON.stringify(r.run_job_name)}`);
    c.header('X-Run-Id', r?.run_id ?? '');
    return c.text('OK\n', 200);
  }

  // `?token=` is checked like the header (same digests, constant-time compare). It never
  // reaches a log: requests are logged by route pattern and path, never the query string.
  const headerAuth = deps.auth.require('write');
  const requireWrite: MiddlewareHandler = async (c, next) => {
    const token = c.req.query('token');
    if (token !== undefined && deps.auth.allowsToken('write', token)) return next();
    return headerAuth(c, next);
  };

  for (const method of ['get', 'post'] as const) {
    app[method]('/ping/:job', requireWrite, (c) => handle(c, undefined));
    app[method]('/ping/:job/:action', requireWrite, (c) => handle(c, c.req.param('action')));
  }
  return app;
}
