/**
 * Observation + the run as jobpulse knows it → the events that move the run, and only
 * those (a re-poll of an unchanged app emits nothing). Event ids are deterministic —
 * `spark:<cluster>:<run_id>:<id>:<event>[:<progress>]`, hashed past the id limit — so even a
 * poll racing a restart or a concurrent cycle lands once: ingest drops an event id already in
 * the log. The run is part of it because cluster ids are reused (Livy numbers its batches from
 * 0 again after a restart without recovery): without it a new run on a reused id had its
 * events dropped as the old run's duplicates and stayed where it was for ever.
 */
import { createHash } from 'node:crypto';
import type { EventDraft, EventType } from '../../domain/job-event.js';
import { isTerminal, type Run } from '../../domain/run.js';
import type { SparkObservation } from './observation.js';

export interface DraftContext {
  cluster: string;
  job_name: string;
  run_id: string;
  now: number;
  /** Labels every event of this run carries (the tracking labels for discovered runs). */
  labels?: Record<string, string>;
  maxErrorMessageLength: number;
}

const ID_MAX = 200;
const eventId = (id: string): string => (id.length <= ID_MAX ? id : `spark:${createHash('sha256').update(id).digest('hex')}`);

const clip = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max)}…[truncated ${s.length - max} chars]`);

export function draftsFor(obs: SparkObservation, run: Run | undefined, ctx: DraftContext): EventDraft[] {
  const source = `spark:${ctx.cluster}`;
  const out: EventDraft[] = [];
  const make = (event: EventType, timestamp: number | undefined, extra: Partial<EventDraft> = {}): EventDraft => {
    const draft: EventDraft = {
      event_id: eventId(`${source}:${ctx.run_id}:${obs.id}:${event}${extra.progress !== undefined && event === 'progress' ? `:${extra.progress}` : ''}`),
      job_name: ctx.job_name,
      run_id: ctx.run_id,
      event,
      source,
      // API times when the API has them (when it happened), else when we noticed.
      timestamp: timestamp ?? ctx.now,
      metadata: { spark_state: obs.native },
      ...extra,
    };
    if (ctx.labels && !run) draft.labels = ctx.labels;
    return draft;
  };
  const state = run?.state;
  if (state !== undefined && isTerminal(state)) return out;

  switch (obs.state) {
    case 'unknown':
      return out;
    case 'queued':
      if (state === undefined) out.push(make('queued', obs.submitted_at));
      return out;
    case 'submitting':
      if (state === undefined || state === 'queued') out.push(make('submitted', obs.submitted_at));
      return out;
    case 'running':
      if (state !== 'running') {
        out.push(make('started', obs.started_at, obs.progress !== undefined ? { progress: obs.progress } : {}));
      } else if (obs.progress !== undefined && obs.progress > (run?.progress ?? -1)) {
        out.push(make('progress', undefined, { progress: obs.progress }));
      }
      return out;
    default: {
      // A run first seen finished still gets its start, so its duration is known; but only
      // with its end: a master driver has no duration, and "ended now" after a start years
      // ago made a duration of years. Without the end the duration stays unknown, not wrong.
      if (state !== 'running' && obs.started_at !== undefined && obs.ended_at !== undefined) out.push(make('started', obs.started_at));
      const extra: Partial<EventDraft> = {};
      if (obs.error_message && obs.state !== 'succeeded') extra.error_message = clip(obs.error_message, ctx.maxErrorMessageLength);
      if (obs.exit_code !== undefined) extra.exit_code = obs.exit_code;
      out.push(make(obs.state, obs.ended_at, extra));
      return out;
    }
  }
}
