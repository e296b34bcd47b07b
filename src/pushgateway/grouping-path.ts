/**
 * The grouping key in a push URL: `/metrics/job/<job>{/<label>/<value>}`.
 *
 * - `<name>@base64/<value>`: the value is URL-safe base64 (`=` padding optional; a lone
 *   `=` is the empty string), as the Python client sends values containing `/` or empty
 *   ones; `job@base64` too.
 * - Percent-encoding: every segment is decoded on its own, *after* splitting on `/`, so a
 *   value encoded with encodeURIComponent (prom-client's Pushgateway) may contain `%2F`.
 *   The real Pushgateway decodes the whole path first and refuses such a value with
 *   "odd number of components" (a deliberate difference, listed in the README).
 * - A label repeated in the path: the last value wins, except `job`: the one right after
 *   `/metrics/job/` always wins, as in the Pushgateway (a `/job/other` further on cannot
 *   move the push to another job's group).
 * - `@base64` values are RawURLEncoding once trailing `=` are trimmed, as the Pushgateway
 *   decodes them: the standard alphabet's `+` and `/`, and a length that leaves one
 *   character over, are refused.
 * - A trailing `/` after the job (`/metrics/job/j/`) names the group `{job="j"}`.
 */
import { ValidationError } from '../domain/errors.js';
import { decodePathSegment } from '../http/path-segment.js';
import { utf8Text } from '../runtime/utf8.js';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const bad = (message: string): ValidationError => new ValidationError([{ path: 'url', message }], message);

export function decodeBase64Value(s: string): string {
  const trimmed = s.replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(trimmed) || trimmed.length % 4 === 1) throw bad(`invalid base64 encoding in label value ${JSON.stringify(s)}`);
  const text = utf8Text(Buffer.from(trimmed, 'base64url'));
  // The Pushgateway refuses such a value (its consistency check: "value is not utf8").
  if (text === undefined) throw bad(`label value ${JSON.stringify(s)} is not valid UTF-8 once base64-decoded`);
  return text;
}

/** `rawPath` is the URL path as sent (not yet percent-decoded), starting at `/metrics/`. */
export function parseGroupingPath(rawPath: string): Record<string, string> {
  const rest = rawPath.replace(/^\/metrics\//, '');
  const slash = rest.indexOf('/');
  const jobName = slash < 0 ? rest : rest.slice(0, slash);
  if (jobName !== 'job' && jobName !== 'job@base64') throw bad('the grouping key must start with /job/<job name>');
  const afterJob = slash < 0 ? '' : rest.slice(slash + 1);
  const cut = afterJob.indexOf('/');
  const rawJob = cut < 0 ? afterJob : afterJob.slice(0, cut);
  // What the Pushgateway's route calls *labels: everything after the job, from its slash on.
  const labelString = cut < 0 ? '' : afterJob.slice(cut);
  let job = decodePathSegment(rawJob);
  if (jobName === 'job@base64') job = decodeBase64Value(job);
  if (!job) throw bad('job name is required');
  // `job` first (pages and /api/v1/metrics show labels in this order) and never replaced.
  const labels: Record<string, string> = { job };
  if (labelString.length > 1) {
    const parts = labelString.split('/').map(decodePathSegment);
    if (parts.length % 2 === 0) throw bad(`odd number of components in label string ${JSON.stringify(parts.join('/'))}`);
    for (let i = 1; i < parts.length - 1; i += 2) {
      let name = parts[i] as string;
      let value = parts[i + 1] as string;
      if (name.endsWith('@base64')) {
        name = name.slice(0, -'@base64'.length);
        value = decodeBase64Value(value);
      }
      if (!LABEL_NAME.test(name) || name.startsWith('__')) throw bad(`improper label name ${JSON.stringify(name)}`);
      if (name !== 'job') labels[name] = value;
    }
  }
  return labels;
}
