/**
 * Migration 8: a job's (and a parent run's) runs in a state other than succeeded. The runs table of a
 * job filtered to failures (the status page's and the API's `state=failed,crashed`) read every
 * row of the job through runs_by_job when such runs are rare: 31-85 ms at 100k runs. A
 * partial index holds only those runs, newest first with their state, so a filter walks
 * them without reading a row it will not return (0.2-1 ms, one state or several) and the
 * succeeded majority never writes to it (a fifth
 * index on every run row cost the writer ~3.6 µs per run, migration 6); a query uses it when
 * its WHERE repeats UNSUCCESSFUL word for word (SQLite's partial-index rule). The same for a
 * parent's child batches (`/runs/<id>?state=crashed`, `/api/v1/runs/<id>/children?state=`).
 */
export const UNSUCCESSFUL = `state IN ('failed', 'cancelled', 'timed_out', 'crashed', 'missed')`;

export default `
CREATE INDEX runs_unsuccessful_by_job ON runs (job_name, created_at DESC, state) WHERE ${UNSUCCESSFUL};
CREATE INDEX runs_unsuccessful_by_parent ON runs (parent_run_id, created_at, state) WHERE parent_run_id IS NOT NULL AND ${UNSUCCESSFUL};
`;
