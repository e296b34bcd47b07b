/**
 * Apache Livy batches: `GET /batches/<id>` and, for discovery, `GET /batches` page by page.
 * Quirks: real states include `recovering` (after a Livy restart: unknown, keep the run
 * as it is) and `killed`; there is no `killing`. The log tail carries the YARN
 * diagnostics after a "YARN Diagnostics: " marker line: that is the error message.
 */
import { SPARK_LABELS, type SparkApi } from './api.js';
import { isObj, mapState, STATE_TABLE, str, UnexpectedResponseError, type SparkObservation } from './observation.js';

const DIAGNOSTICS_MARKER = 'YARN Diagnostics:';
/**
 * `GET /batches` answers `size` sessions from `from` (default 0 and 100: Livy's
 * SessionServlet) and the `total`, oldest first. Read as one page, a Livy that retained more
 * than 100 batches showed discovery only its oldest 100, mostly finished, and never a new one.
 * Pages of 200 keep each answer small (a batch carries its log tail); the cap bounds a cycle
 * against a `total` that never stops growing.
 */
const LIST_PAGE = 200;
const MAX_LIST_PAGES = 100;

/** The diagnostics after the marker, else the last few non-empty log lines. */
export function livyErrorMessage(log: unknown): string | undefined {
  if (!Array.isArray(log)) return undefined;
  const lines = log.filter((l): l is string => typeof l === 'string');
  const marker = lines.findIndex((l) => l.includes(DIAGNOSTICS_MARKER));
  const after = marker >= 0 ? lines.slice(marker + 1) : lines.slice(-5);
  const text = after.map((l) => l.trim()).filter((l) => l !== '' && l !== 'stdout:' && l !== 'stderr:').join('\n');
  return text === '' ? undefined : text;
}

export function parseLivyBatch(body: unknown): SparkObservation {
  if (!isObj(body) || (typeof body.id !== 'number' && typeof body.id !== 'string')) throw new UnexpectedResponseError('Livy batch without an id');
  const native = str(body.state) ?? 'unknown';
  const state = mapState(STATE_TABLE.livy, native);
  const obs: SparkObservation = { id: String(body.id), state, native };
  const name = str(body.name);
  if (name) obs.name = name;
  const appId = str(body.appId);
  if (appId) obs.app_id = appId;
  if (state === 'failed' || state === 'cancelled') {
    const msg = livyErrorMessage(body.log);
    if (msg) obs.error_message = msg;
  }
  return obs;
}

export const livyApi: SparkApi = {
  kind: 'livy',
  idLabels: [SPARK_LABELS.batchId],
  async poll(http, id) {
    return parseLivyBatch(await http.getJson(`/batches/${encodeURIComponent(id)}`));
  },
  async discover(http) {
    const byId = new Map<string, SparkObservation>();
    for (let from = 0, pages = 0; pages < MAX_LIST_PAGES; pages++) {
      const body = await http.getJson(`/batches?from=${from}&size=${LIST_PAGE}`);
      if (!isObj(body) || !Array.isArray(body.sessions)) throw new UnexpectedResponseError('Livy /batches answer without sessions');
      // A batch that moves across a page boundary between two pages is listed twice or not at
      // all: the id keeps one, and the next cycle's listing finds a missed one.
      for (const o of body.sessions.map(parseLivyBatch)) byId.set(o.id, o);
      from += body.sessions.length;
      const total = typeof body.total === 'number' ? body.total : 0;
      if (body.sessions.length === 0 || from >= total) break;
    }
    return [...byId.values()].filter((o) => o.state !== 'succeeded' && o.state !== 'failed' && o.state !== 'cancelled');
  },
};
