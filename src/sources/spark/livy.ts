/**
 * Apache Livy batches: `GET /batches/<id>` and, for discovery, `GET /batches`.
 * Quirks: real states include `recovering` (after a Livy restart: unknown, keep the run
 * as it is) and `killed`; there is no `killing`. The log tail carries the YARN
 * diagnostics after a "YARN Diagnostics: " marker line: that is the error message.
 */
import { SPARK_LABELS, type SparkApi } from './api.js';
import { isObj, mapState, STATE_TABLE, str, UnexpectedResponseError, type SparkObservation } from './observation.js';

const DIAGNOSTICS_MARKER = 'YARN Diagnostics:';

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
    const body = await http.getJson('/batches');
    if (!isObj(body) || !Array.isArray(body.sessions)) throw new UnexpectedResponseError('Livy /batches answer without sessions');
    return body.sessions.map(parseLivyBatch).filter((o) => o.state !== 'succeeded' && o.state !== 'failed' && o.state !== 'cancelled');
  },
};
