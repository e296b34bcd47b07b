/**
 * Hands one poll cycle's events to ingest: as one request (one group commit) when it can.
 *
 * A request that would create a job past `limits.max_jobs` is refused whole. A cycle's
 * request holds both the changes of runs already followed and the runs discovery creates,
 * so one discovered application with a new job name over the limit froze every run of the
 * cluster: a probe at max_jobs 50 listing 100 job names created no run at all, cycle after
 * cycle, and a pushed run's `succeeded` waited behind it. On that refusal the cycle is sent
 * again as one request for the followed runs and one per discovered run, queued together
 * (still one commit): ingest refuses only the runs whose new job is past the limit, in
 * listing order, and counts them in jobpulse_events_rejected_total.
 */
import { TooManyJobsError } from '../../domain/errors.js';
import type { EventDraft } from '../../domain/job-event.js';
import type { IngestFn } from '../../ingest/ingest.js';

export interface HandOverResult {
  /** Events made durable. */
  emitted: number;
  /** Discovered runs refused for the job limit, and the job of the first one. */
  refusedRuns: number;
  refusedJob?: string;
}

/** Other errors (store down, writer saturated) are thrown: the cycle's events come again next cycle. */
export async function handOver(ingest: IngestFn, polled: EventDraft[], discovered: EventDraft[][]): Promise<HandOverResult> {
  const all = discovered.length === 0 ? polled : polled.concat(...discovered);
  if (all.length === 0) return { emitted: 0, refusedRuns: 0 };
  try {
    await ingest(all, { results: false });
    return { emitted: all.length, refusedRuns: 0 };
  } catch (err) {
    if (!(err instanceof TooManyJobsError) || discovered.length === 0) throw err;
  }
  const parts = polled.length > 0 ? [polled, ...discovered] : discovered;
  const settled = await Promise.allSettled(parts.map((drafts) => ingest(drafts, { results: false })));
  const out: HandOverResult = { emitted: 0, refusedRuns: 0 };
  let failure: unknown;
  settled.forEach((s, i) => {
    const drafts = parts[i] as EventDraft[];
    if (s.status === 'fulfilled') out.emitted += drafts.length;
    else if (s.reason instanceof TooManyJobsError && drafts !== polled) {
      out.refusedRuns += 1;
      out.refusedJob ??= drafts[0]?.job_name;
    } else failure ??= s.reason;
  });
  if (failure !== undefined) throw failure;
  return out;
}
