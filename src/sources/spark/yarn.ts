/**
 * YARN ResourceManager: `GET /ws/v1/cluster/apps/<appId>` and, for discovery,
 * `/ws/v1/cluster/apps?applicationTypes=SPARK&states=…` (active states only).
 * Quirks: FINISHED is not success (check `finalStatus`); `progress` of a Spark app is
 * 10 % for the whole run (Spark's AM always reports 0.1), so it is not used as progress;
 * `finishedTime` is 0 while the app runs. Real progress comes from the Spark UI behind
 * the RM's web proxy (the running app's `trackingUrl`, `/proxy/<appId>/`): its
 * monitoring API `…/api/v1/applications/<appId>/jobs`, fetched from the configured RM.
 * That fetch is best effort: when it fails the run simply has no progress this cycle.
 */
import { SPARK_LABELS, type SparkApi } from './api.js';
import { epochMs, isObj, mapState, STATE_TABLE, str, taskProgress, UnexpectedResponseError, type SparkObservation, type TaskCounts } from './observation.js';

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
    const obs = parseYarnApp(body.app);
    const proxy = obs.state === 'running' && isObj(body.app) ? proxyPath(body.app.trackingUrl) : undefined;
    if (proxy) {
      try {
        const jobs = await http.getJson(`${proxy}api/v1/applications/${encodeURIComponent(obs.id)}/jobs`);
        const p = Array.isArray(jobs) ? taskProgress(jobs.filter(isObj) as TaskCounts[]) : undefined;
        if (p !== undefined) obs.progress = p;
      } catch {
        // Best effort (counted in jobpulse_spark_polls_total): the state above stands.
      }
    }
    return obs;
  },
  async discover(http) {
    const body = await http.getJson(`/ws/v1/cluster/apps?applicationTypes=SPARK&states=${ACTIVE_YARN_STATES}`);
    if (!isObj(body)) throw new UnexpectedResponseError('YARN answer is not a JSON object');
    // An empty result is `{"apps":null}` on real RMs.
    const list = isObj(body.apps) && Array.isArray(body.apps.app) ? body.apps.app : [];
    return list.filter(isObj).map(parseYarnApp);
  },
};

/** `http://rm:8088/proxy/application_1_0042/` → `/proxy/application_1_0042/`, else undefined. */
export function proxyPath(trackingUrl: unknown): string | undefined {
  if (typeof trackingUrl !== 'string') return undefined;
  try {
    const m = /^(.*\/proxy\/[^/]+\/)/.exec(new URL(trackingUrl).pathname);
    return m?.[1];
  } catch {
    return undefined;
  }
}
