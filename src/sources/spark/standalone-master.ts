/**
 * Standalone master JSON (`/json/` on 8080): active and completed apps and drivers in one
 * answer, so every tracked id of a cluster costs one request per cycle. Quirks: a
 * driver's `starttime` is a string, an app's a number; a standby master answers with
 * empty lists and `status: STANDBY` (then nothing is "not found": the answer is unknown).
 */
import { SPARK_LABELS, type SparkApi } from './api.js';
import { PollError } from './http-client.js';
import { epochMs, isObj, mapState, STATE_TABLE, str, UnexpectedResponseError, type SparkObservation } from './observation.js';

const fromEntry = (e: Record<string, unknown>, driver: boolean): SparkObservation | undefined => {
  const id = str(e.id);
  if (!id) return undefined;
  const native = str(e.state) ?? 'UNKNOWN';
  const state = mapState(driver ? STATE_TABLE.standaloneDriver : STATE_TABLE.standaloneApp, native);
  const start = epochMs(e.starttime);
  const obs: SparkObservation = { id, state, native };
  const name = str(e.name) ?? str(e.mainclass);
  if (name) obs.name = name;
  if (start !== undefined) {
    obs.submitted_at = start;
    if (state !== 'queued' && state !== 'submitting') obs.started_at = start;
    const duration = typeof e.duration === 'number' ? e.duration : undefined;
    if (duration !== undefined && state !== 'running' && state !== 'queued' && state !== 'unknown') obs.ended_at = start + duration;
  }
  return obs;
};

/** Every app and driver in a master answer, keyed by id. */
export function parseMasterState(body: unknown): { status: string; byId: Map<string, SparkObservation>; active: SparkObservation[] } {
  if (!isObj(body)) throw new UnexpectedResponseError('master /json answer is not a JSON object');
  const byId = new Map<string, SparkObservation>();
  const active: SparkObservation[] = [];
  const lists: [string, boolean, boolean][] = [
    ['activeapps', false, true],
    ['completedapps', false, false],
    ['activedrivers', true, false],
    ['completeddrivers', true, false],
  ];
  for (const [key, driver, isActiveApp] of lists) {
    const list = body[key];
    if (!Array.isArray(list)) continue;
    for (const e of list) {
      if (!isObj(e)) continue;
      const obs = fromEntry(e, driver);
      if (!obs) continue;
      byId.set(obs.id, obs);
      if (isActiveApp) active.push(obs);
    }
  }
  return { status: str(body.status) ?? 'UNKNOWN', byId, active };
}

export const standaloneMasterApi: SparkApi = {
  kind: 'standalone-master',
  idLabels: [SPARK_LABELS.appId, SPARK_LABELS.submissionId],
  async pollMany(http, ids) {
    const parsed = parseMasterState(await http.getJson('/json/'));
    if (parsed.status !== 'ALIVE') {
      // A standby or recovering master knows nothing: report every id as unknown, not vanished.
      return new Map(ids.map((id) => [id, { id, state: 'unknown', native: `MASTER_${parsed.status}` } satisfies SparkObservation]));
    }
    return parsed.byId;
  },
  async discover(http) {
    const parsed = parseMasterState(await http.getJson('/json/'));
    if (parsed.status !== 'ALIVE') throw new PollError('unexpected', `master status ${parsed.status}: not ALIVE`);
    return parsed.active;
  },
};
