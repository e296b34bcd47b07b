/**
 * Renders the per-job families from state at scrape time.
 *
 * Why not prom-client gauges: with 10k–50k jobs and ~45 series each, building label
 * objects and re-serialising every series on every scrape costs more than the whole
 * budget (measured: a prom-client gauge registry takes ~125–150 ms at 10k jobs).
 *
 * Job and run snapshots are immutable (ingest replaces them on change), so a job only
 * needs rendering again when one of its snapshots (or its expected duration) is a new
 * object. The text format groups samples by family, so the cache is laid out the same
 * way: jobs sit in fixed pages of PAGE_SIZE, and each (page, family) owns one block with
 * those jobs' lines for that family, deflated (deflate-parts.ts), plus the end offset of
 * every job's segment in the text. A scrape re-renders only the jobs that changed,
 * rebuilds only the pages that hold them (inflating the old block to copy the unchanged
 * jobs' bytes), and answers with the list of blocks — no per-scrape concatenation of the
 * whole body (measured at 10k jobs: 230k small per-family Buffers cost ~19 MiB of heap on
 * top of their bytes, and concatenating them ~160 ms per scrape). Compressed, the cache
 * holds ~1.3 MB instead of ~20 MB of text at 10k jobs.
 *
 * Blocks are never changed once built: a scrape still streaming old ones keeps a
 * consistent body while the next scrape builds new ones. Output is checked by
 * `promtool check metrics` and compared with a plain full render in the tests.
 */
import { DURATION_BUCKETS_SECONDS, failuresTotal, OUTCOMES, type Job } from '../domain/job.js';
import { isTerminal, RUN_STATES, type Run } from '../domain/run.js';
import type { Clock } from '../runtime/clock.js';
import type { JobState } from '../state/job-state.js';
import { escapeLabelValue, familyHeader, formatValue, type ExpositionFormat } from './exposition-format.js';
import { deflate, EMPTY_DEFLATED, inflate, type BodyPart, type Deflated } from './deflate-parts.js';
import { JOB_METRICS, type MetricName } from './names.js';

export interface JobView {
  job: Job;
  run: Run | undefined;
  /** `job_name="..."` ready to splice into a label set. */
  label: string;
  expected: number | undefined;
  /** Some running run of the job (not only the latest: runs may overlap) is flagged stuck. */
  stuck: boolean;
  /** Some running run of the job is flagged overdue. */
  overdue: boolean;
}

/** A per-job family: `lines` returns complete sample lines (or ''), in text format. */
export interface JobFamily {
  metric: MetricName;
  lines(v: JobView): string;
  /** Families whose lines depend on more than the job and run snapshots are rendered on every scrape. */
  volatile?: boolean;
}

const sec = (ms: number): string => formatValue(ms / 1000);
const gaugeIf = (name: string, label: string, v: number | undefined, toSeconds = false): string =>
  v === undefined ? '' : `${name}{${label}} ${toSeconds ? sec(v) : formatValue(v)}\n`;

const J = JOB_METRICS;

/** The states job_status sets: a missed run is history only and never a job's latest run, so its line would always be 0. */
const STATUS_STATES = RUN_STATES.filter((s) => s !== 'missed');

export const CORE_JOB_FAMILIES: JobFamily[] = [
  {
    metric: J.status,
    lines: ({ run, label }) => {
      let s = '';
      for (const st of STATUS_STATES) s += `job_status{${label},state="${st}"} ${run?.state === st ? 1 : 0}\n`;
      return s;
    },
  },
  { metric: J.startTime, lines: ({ run, label }) => gaugeIf(J.startTime.name, label, run?.started_at, true) },
  { metric: J.endTime, lines: ({ run, label }) => gaugeIf(J.endTime.name, label, run && isTerminal(run.state) ? run.ended_at : undefined, true) },
  { metric: J.lastSuccess, lines: ({ job, label }) => gaugeIf(J.lastSuccess.name, label, job.last_success_at, true) },
  { metric: J.lastFailure, lines: ({ job, label }) => gaugeIf(J.lastFailure.name, label, job.last_failure_at, true) },
  {
    metric: J.lastHeartbeat,
    lines: ({ run, label }) => gaugeIf(J.lastHeartbeat.name, label, run && !isTerminal(run.state) ? (run.last_heartbeat_at ?? run.last_event_at) : undefined, true),
  },
  {
    metric: J.progress,
    lines: ({ run, label }) => gaugeIf(J.progress.name, label, run && run.state === 'running' ? (run.progress ?? 0) : undefined),
  },
  { metric: J.duration, lines: ({ job, label }) => gaugeIf(J.duration.name, label, job.last_duration_seconds) },
  {
    metric: J.runDuration,
    lines: ({ job, label }) => {
      let s = '';
      DURATION_BUCKETS_SECONDS.forEach((le, i) => {
        s += `job_run_duration_seconds_bucket{${label},le="${le}"} ${job.duration_buckets[i] ?? 0}\n`;
      });
      return `${s}job_run_duration_seconds_bucket{${label},le="+Inf"} ${job.duration_count}\njob_run_duration_seconds_sum{${label}} ${formatValue(job.duration_sum_seconds)}\njob_run_duration_seconds_count{${label}} ${job.duration_count}\n`;
    },
  },
  { metric: J.expectedDuration, lines: ({ expected, label }) => gaugeIf(J.expectedDuration.name, label, expected) },
  {
    metric: J.runs,
    lines: ({ job, label }) => {
      let s = '';
      for (const o of OUTCOMES) s += `job_runs_total{${label},outcome="${o}"} ${job.runs_total[o]}\n`;
      return s;
    },
  },
  { metric: J.failures, lines: ({ job, label }) => `job_failures_total{${label}} ${failuresTotal(job)}\n` },
  { metric: J.stuck, lines: ({ stuck, label }) => `job_stuck{${label}} ${stuck ? 1 : 0}\n` },
  { metric: J.overdue, lines: ({ overdue, label }) => `job_overdue{${label}} ${overdue ? 1 : 0}\n` },
  { metric: J.recordsProcessed, lines: ({ job, label }) => `job_records_processed_total{${label}} ${job.records_processed_total}\n` },
  { metric: J.errors, lines: ({ job, label }) => `job_errors_total{${label}} ${job.errors_total}\n` },
  { metric: J.retries, lines: ({ job, label }) => `job_retries_total{${label}} ${job.retries_total}\n` },
];

/** Jobs per page: large enough that a scrape answers with few Buffers, small enough that one changed job rebuilds little. */
export const PAGE_SIZE = 256;

interface Slot {
  view: JobView;
  /** Position of this job's segments in its page's current blocks; -1 until first built. */
  index: number;
  /** Snapshots changed since the page was built: render again instead of copying. */
  fresh: boolean;
  page: Page;
  /** Scrape sequence number of the last scrape that saw the job exposed. */
  seen: number;
}

interface Block {
  /** The page's lines for the family, compressed (see deflate-parts.ts). */
  text: Deflated;
  /** ends[i]: end offset in the uncompressed text of the i-th slot's segment (its start is ends[i - 1] or 0). */
  ends: Uint32Array;
}

interface Page {
  slots: Slot[];
  /** One block per family; undefined for volatile families. Empty until first built. */
  blocks: (Block | undefined)[];
  dirty: boolean;
}

const NO_ENDS = new Uint32Array(0);

export interface JobExposition {
  /** The per-job section of /metrics as parts to write in order (never modified afterwards). */
  render(format: ExpositionFormat): BodyPart[];
  /** Jobs currently exposed and jobs hidden as idle past the TTL. */
  counts(): { exposed: number; idle: number };
}

export function createJobExposition(deps: {
  state: JobState;
  clock: Clock;
  idleTtlMs: number;
  expectedDuration: (jobName: string) => number | undefined;
  families?: JobFamily[];
}): JobExposition {
  const families = deps.families ?? CORE_JOB_FAMILIES;
  const slots = new Map<string, Slot>();
  const pages: Page[] = [];
  const headers = {
    text: families.map((f) => Buffer.from(familyHeader(f.metric, 'text'))),
    openmetrics: families.map((f) => Buffer.from(familyHeader(f.metric, 'openmetrics'))),
  };
  let lastCounts = { exposed: 0, idle: 0 };
  let seq = 0;

  // An older run left stuck behind a newer one (overlapping runs) never paged when job_stuck
  // read only the latest run. Scanning every unfinished run per job per scrape would cost the
  // hot path, so the flagged runs are tracked as runs change: per run its flags, per job how
  // many of its running runs carry each flag.
  const flaggedRuns = new Map<string, { job: string; stuck: boolean; overdue: boolean }>();
  const flagCounts = new Map<string, { stuck: number; overdue: number }>();
  const track = (r: Run): void => {
    const stuck = r.state === 'running' && r.stuck;
    const overdue = r.state === 'running' && r.overdue;
    // Almost every change flags nothing and nothing is flagged: no map lookup then.
    if (!stuck && !overdue && flaggedRuns.size === 0) return;
    const old = flaggedRuns.get(r.run_id);
    if ((old?.stuck ?? false) === stuck && (old?.overdue ?? false) === overdue) return;
    let c = flagCounts.get(r.job_name);
    if (!c) flagCounts.set(r.job_name, (c = { stuck: 0, overdue: 0 }));
    c.stuck += (stuck ? 1 : 0) - (old?.stuck ? 1 : 0);
    c.overdue += (overdue ? 1 : 0) - (old?.overdue ? 1 : 0);
    if (c.stuck === 0 && c.overdue === 0) flagCounts.delete(r.job_name);
    if (stuck || overdue) flaggedRuns.set(r.run_id, { job: r.job_name, stuck, overdue });
    else flaggedRuns.delete(r.run_id);
  };
  for (const r of deps.state.allRuns()) track(r);
  deps.state.onChange(({ runs, removed }) => {
    if (removed) {
      const gone = new Set(removed);
      for (const [id, f] of flaggedRuns) if (gone.has(f.job)) flaggedRuns.delete(id);
      for (const name of gone) flagCounts.delete(name);
    }
    for (const r of runs) track(r);
  });

  const isExposed = (job: Job, run: Run | undefined, flagged: boolean, now: number): boolean =>
    job.last_seen_at >= now - deps.idleTtlMs || (run !== undefined && !isTerminal(run.state)) || flagged;

  const newPage = (): Page => {
    const p: Page = { slots: [], blocks: families.map(() => undefined), dirty: true };
    pages.push(p);
    return p;
  };

  const remove = (slot: Slot): void => {
    slots.delete(slot.view.job.job_name);
    const p = slot.page;
    p.slots.splice(p.slots.indexOf(slot), 1);
    p.dirty = true;
  };

  /** Rebuilds every family block of a page: fresh slots are rendered, the others copied. */
  const rebuild = (p: Page): void => {
    families.forEach((f, fi) => {
      if (f.volatile) return;
      const old = p.blocks[fi];
      const parts: (string | undefined)[] = new Array(p.slots.length);
      let size = 0;
      let copies = false;
      p.slots.forEach((slot, i) => {
        if (slot.fresh || !old || slot.index < 0) {
          const s = f.lines(slot.view);
          parts[i] = s;
          size += Buffer.byteLength(s);
        } else {
          size += (old.ends[slot.index] as number) - (slot.index > 0 ? (old.ends[slot.index - 1] as number) : 0);
          copies = true;
        }
      });
      const oldText = old && copies ? inflate(old.text) : undefined;
      const buf = Buffer.allocUnsafe(size);
      const ends = p.slots.length === 0 ? NO_ENDS : new Uint32Array(p.slots.length);
      let pos = 0;
      p.slots.forEach((slot, i) => {
        const s = parts[i];
        if (s !== undefined) pos += buf.write(s, pos);
        else if (old && oldText) {
          const from = slot.index > 0 ? (old.ends[slot.index - 1] as number) : 0;
          pos += oldText.copy(buf, pos, from, old.ends[slot.index]);
        }
        ends[i] = pos;
      });
      p.blocks[fi] = { text: size === 0 ? EMPTY_DEFLATED : deflate(buf), ends };
    });
    p.slots.forEach((slot, i) => {
      slot.index = i;
      slot.fresh = false;
    });
    p.dirty = false;
  };

  return {
    render(format) {
      const now = deps.clock.now();
      seq += 1;
      let idle = 0;
      let exposed = 0;
      for (const job of deps.state.allJobs()) {
        const run = deps.state.latestRun(job);
        const flags = flagCounts.size === 0 ? undefined : flagCounts.get(job.job_name);
        const stuck = flags !== undefined && flags.stuck > 0;
        const overdue = flags !== undefined && flags.overdue > 0;
        let slot = slots.get(job.job_name);
        if (!isExposed(job, run, flags !== undefined, now)) {
          idle += 1;
          if (slot) remove(slot);
          continue;
        }
        exposed += 1;
        const expected = deps.expectedDuration(job.job_name);
        if (!slot) {
          let tail = pages[pages.length - 1];
          if (!tail || tail.slots.length >= PAGE_SIZE) tail = newPage();
          slot = { view: { job, run, expected, stuck, overdue, label: `job_name="${escapeLabelValue(job.job_name)}"` }, index: -1, fresh: true, page: tail, seen: seq };
          tail.slots.push(slot);
          tail.dirty = true;
          slots.set(job.job_name, slot);
        } else {
          const v = slot.view;
          if (v.job !== job || v.run !== run || v.expected !== expected || v.stuck !== stuck || v.overdue !== overdue) {
            slot.view = { job, run, expected, stuck, overdue, label: v.label };
            slot.fresh = true;
            slot.page.dirty = true;
          }
          slot.seen = seq;
        }
      }
      // Jobs that left the state altogether (not just idle) leave the cache too.
      if (slots.size !== exposed) for (const slot of [...slots.values()]) if (slot.seen !== seq) remove(slot);
      for (let i = pages.length - 1; i >= 0; i--) {
        const p = pages[i] as Page;
        if (p.slots.length === 0 && i < pages.length - 1) pages.splice(i, 1);
        else if (p.dirty) rebuild(p);
      }
      lastCounts = { exposed, idle };

      const out: BodyPart[] = [];
      families.forEach((f, fi) => {
        out.push(headers[format][fi] as Buffer);
        if (f.volatile) {
          let s = '';
          for (const p of pages) for (const slot of p.slots) s += f.lines(slot.view);
          if (s.length > 0) out.push(Buffer.from(s));
          return;
        }
        for (const p of pages) {
          const t = (p.blocks[fi] as Block).text;
          if (t.len > 0) out.push(t);
        }
      });
      return out;
    },
    counts: () => lastCounts,
  };
}
