/**
 * YARN ResourceManager: `GET /ws/v1/cluster/apps/<appId>` and, for discovery,
 * `/ws/v1/cluster/apps?applicationTypes=SPARK&states=…` (active states only).
 * Quirks: FINISHED is not success (check `finalStatus`); `progress` of a Spark app is
 * 10 % for the whole run (Spark's AM always reports 0.1), so it is not used as progress;
 * `finishedTime` is 0 while the app runs.
 */
import { SPARK_LABELS, type SparkApi } from './api.js';
import { epochMs, isObj, mapState, STATE_TABLE, str, UnexpectedResponseError, type SparkObservation } from './observation.js';

export function parseYarnApp(app: unknown): SparkObservation {
  if (!isObj(app) || !str(app.id)) throw new UnexpectedResponseError('YARN app without an id');
  const id = app.id as string;
  const yarnState = str(app.state) ?? 'UNKNOWN';
  const finalStatus = str(app.finalStatus) ?? 'UNDEFINED';
  const state = yarnState === 'FINISHED' ? mapState(STATE_TABLE.yarnFinished, finalStatus) : mapState(STATE_TABLE.yarn, yarnState);
  const obs: SparkObservation = { id, state, native: `${yarnState}/${finalStatus}` };
  const name = str(app.name);
  if (name) obs.name = name;
  const started = epochMs(app.startedTime);
  if (started !== undefined) {
    obs.submitted_at = started;
    if (state !== 'queued' && state !== 'submitting') obs.started_at = started;
  }
  const finished = epochMs(app.finishedTime);
  if (finished !== undefined && (state === 'succeeded' || state === 'failed' || state === 'cancelled')) obs.ended_at = finished;
  const diagnostics = str(app.diagnostics);
  if (diagnostics && (state === 'failed' || state === 'cancelled')) obs.error_message = diagnostics;
  return obs;
}

export const ACTIVE_YARN_STATES = 'NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING';

export const yarnApi: SparkApi = {
  kind: 'yarn',
  idLabels: [SPARK_LABELS.appId],
  async poll(http, id) {
    const body = await http.getJson(`/ws/v1/cluster/apps/${encodeURIComponent(id)}`);
    if (!isObj(body)) throw new UnexpectedResponseError('YARN answer is not a JSON object');
    return parseYarnApp(body.app);
  },
  async discover(http) {
    const body = await http.getJson(`/ws/v1/cluster/apps?applicationTypes=SPARK&states=${ACTIVE_YARN_STATES}`);
    if (!isObj(body)) throw new UnexpectedResponseError('YARN answer is not a JSON object');
    // An empty result is `{"apps":null}` on real RMs.
    const list = isObj(body.apps) && Array.isArray(body.apps.app) ? body.apps.app : [];
    return list.filter(isObj).map(parseYarnApp);
  },
};
