/**
 * Prunes the event log and finished runs older than their retention on a cron schedule.
 * Each job's latest run is kept whatever its age, so a restart can still show the job.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../config/schema.js';
import { NotFoundError } from '../domain/errors.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import type { Store } from '../store/store.js';

export interface Retention {
  start(): void;
  stop(): void;
  runOnce(): Promise<{ events: number; runs: number; jobs: number }>;
}

export function createRetention(deps: {
  store: Store;
  clock: Clock;
  logger: Logger;
  config: Config['retention'];
  pruned: (kind: 'events' | 'runs' | 'jobs', n: number) => void;
  /** Finished runs ended before `before` were deleted (each job's latest kept). */
  prunedRuns?: (before: number) => void;
  /** Jobs with no event since `before` and no unfinished run (for `retention.jobs`). */
  idleJobs?: (before: number) => string[];
  /**
   * Deletes a job with its history (ingest's `forget`) if it is still idle since `before` when
   * its turn comes (`kept` otherwise); NotFoundError if it is gone already.
   */
  forgetJob?: (name: string, before: number) => Promise<{ kept?: true }>;
}): Retention {
  let task: ScheduledTask | undefined;
  /**
   * With `retention.jobs`, jobs idle that long go entirely, one deletion at a time (each holds
   * commits briefly; by then retention left them little history). Without it a job never
   * leaves, and limits.max_jobs bounds every name the agent ever took.
   */
  const forgetIdle = async (now: number): Promise<number> => {
    const ttl = deps.config.jobs;
    if (ttl === undefined || !deps.idleJobs || !deps.forgetJob) return 0;
    let n = 0;
    for (const name of deps.idleJobs(now - ttl)) {
      try {
        if (!(await deps.forgetJob(name, now - ttl)).kept) n += 1;
      } catch (err) {
        // Deleted meanwhile (by hand, or by another replica's sweep): nothing left to do.
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    return n;
  };
  const runOnce = async (): Promise<{ events: number; runs: number; jobs: number }> => {
    const now = deps.clock.now();
    const pruned = await deps.store.prune({ eventsBefore: now - deps.config.events, runsBefore: now - deps.config.runs });
    if (pruned.runs > 0) deps.prunedRuns?.(now - deps.config.runs);
    deps.pruned('events', pruned.events);
    deps.pruned('runs', pruned.runs);
    const out = { ...pruned, jobs: await forgetIdle(now) };
    deps.pruned('jobs', out.jobs);
    deps.logger.info('retention pruned', out);
    return out;
  };
  return {
    runOnce,
    start() {
      task ??= cron.schedule(
        deps.config.schedule,
        async () => {
          try {
            await runOnce();
          } catch (err) {
            deps.logger.error('retention failed', { err });
          }
        },
        { name: 'retention', noOverlap: true },
      );
    },
    stop() {
      void task?.stop();
      void task?.destroy();
      task = undefined;
    },
  };
}
