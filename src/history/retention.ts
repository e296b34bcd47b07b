/**
 * Prunes the event log and finished runs older than their retention on a cron schedule.
 * Each job's latest run is kept whatever its age, so a restart can still show the job.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../config/schema.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import type { Store } from '../store/store.js';

export interface Retention {
  start(): void;
  stop(): void;
  runOnce(): Promise<{ events: number; runs: number }>;
}

export function createRetention(deps: {
  store: Store;
  clock: Clock;
  logger: Logger;
  config: Config['retention'];
  pruned: (kind: 'events' | 'runs', n: number) => void;
}): Retention {
  let task: ScheduledTask | undefined;
  const runOnce = async (): Promise<{ events: number; runs: number }> => {
    const now = deps.clock.now();
    const out = await deps.store.prune({ eventsBefore: now - deps.config.events, runsBefore: now - deps.config.runs });
    deps.pruned('events', out.events);
    deps.pruned('runs', out.runs);
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
