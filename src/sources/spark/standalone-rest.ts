/**
 * Standalone REST submission gateway (port 6066): `GET /v1/submissions/status/<id>`.
 * Quirks: "driver not found" is HTTP 200 with `success:false` and no driverState; a
 * standby master answers `success:false` with a message — that is the cluster's
 * trouble, not the run's, so it is reported as `unknown` and never finalizes the run.
 */
import { SPARK_LABELS, type SparkApi } from './api.js';
import { PollError, type SparkHttp } from './http-client.js';
import { isObj, mapState, STATE_TABLE, str, UnexpectedResponseError, type SparkObservation } from './observation.js';

export function parseSubmissionStatus(body: unknown, id: string): SparkObservation {
  if (!isObj(body)) throw new UnexpectedResponseError('submission status is not a JSON object');
  const message = str(body.message);
  if (body.action === 'ErrorResponse') throw new UnexpectedResponseError(`gateway error: ${message ?? 'no message'}`);
  if (body.success === false) {
    if (message && /not alive/i.test(message)) return { id, state: 'unknown', native: 'MASTER_NOT_ALIVE', error_message: message };
    throw new PollError('not_found', `submission ${id} not found (success:false)`);
  }
  const native = str(body.driverState) ?? 'UNKNOWN';
  const state = mapState(STATE_TABLE.standaloneDriver, native);
  const obs: SparkObservation = { id, state, native };
  // `message` carries "Exception from the cluster: …" only when the driver recorded one.
  if (message && (state === 'failed' || state === 'cancelled')) obs.error_message = message;
  return obs;
}

export const standaloneRestApi: SparkApi = {
  kind: 'standalone-rest',
  idLabels: [SPARK_LABELS.submissionId],
  async poll(http: SparkHttp, id: string) {
    return parseSubmissionStatus(await http.getJson(`/v1/submissions/status/${encodeURIComponent(id)}`), id);
  },
};
