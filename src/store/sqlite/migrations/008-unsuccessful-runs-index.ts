/**
 * Migration 8: a job's runs in a state other than succeeded, newest first. The runs table of a
 * job filtered to failures (the status page's and the API's `state=failed,crashed`) read every
 * row of the job through runs_by_job when such runs are rare: 31-85 ms at 100k runs. A
 * partial index holds only those runs, by state, so a filter seeks straight to them (0.1-5
 * ms) and the succeeded majority never writes to it (a fifth
 * index on every run row cost the writer ~3.6 µs per run, migration 6); a query uses it when
 * its WHERE repeats UNSUCCESSFUL word for word (SQLite's partial-index rule).
 */
export const UNSUCCESSFUL = `state IN ('failed', 'cancelled', 'timed_out', 'crashed', 'missed')`;

export default `
CREATE INDEX runs_unsuccessful_by_job ON runs (job_name, state, created_at DESC) WHERE ${UNSUCCESSFUL};
`;
