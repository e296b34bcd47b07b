/** Builds JobEvents for reducer tables: job `etl`, run `r1`, source `push`, a fresh event id each. */
import type { EventType, JobEvent } from '../../src/domain/job-event.js';

/** `at(n)` gives the n-th event's time (1-based): a fixed time, or one that advances per event. */
export function eventBuilder(at: (n: number) => number): (event: EventType, extra?: Partial<JobEvent>) => JobEvent {
  let seq = 0;
  return (event, extra = {}) => {
    const t = at(++seq);
    return { event_id: `e${seq}`, job_name: 'etl', run_id: 'r1', event, source: 'push', timestamp: t, received_at: t, ...extra };
  };
}
