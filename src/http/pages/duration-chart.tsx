/**
 * Inline SVG bar chart of recent run durations against the expected duration: no chart
 * service, no script. Oldest run on the left; a running run's bar shows its elapsed time.
 */
import type { RunState } from '../../domain/run.js';
import { fmtSeconds, fmtTime } from './format.js';
import { runHref } from './layout.js';

export interface ChartRun {
  run_id: string;
  state: RunState;
  seconds: number;
  started_at?: number;
}

const COLOURS: Record<RunState, string> = {
  queued: '#6e7781',
  submitting: '#8250df',
  running: '#0969da',
  succeeded: '#1a7f37',
  failed: '#cf222e',
  cancelled: '#57606a',
  timed_out: '#bc4c00',
  crashed: '#82071e',
  missed: '#9a6700',
};

export function DurationChart(props: { runs: ChartRun[]; expected?: number }) {
  const W = 900;
  const H = 220;
  const pad = { l: 64, r: 12, t: 12, b: 24 };
  const runs = props.runs;
  if (runs.length === 0) return <p class="muted">No runs with a known duration yet.</p>;
  const max = Math.max(1, props.expected ?? 0, ...runs.map((r) => r.seconds)) * 1.1;
  const y = (s: number): number => pad.t + (H - pad.t - pad.b) * (1 - s / max);
  const slot = (W - pad.l - pad.r) / runs.length;
  const bw = Math.max(2, Math.min(40, slot * 0.7));
  const ticks = [0, max / 2, max / 1.1];
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="run durations against the expected duration">
      {ticks.map((t) => (
        <>
          <line x1={pad.l} x2={W - pad.r} y1={y(t)} y2={y(t)} stroke="#eaeef2" />
          <text x={pad.l - 6} y={y(t) + 4} text-anchor="end" font-size="11" fill="#656d76">
            {fmtSeconds(t)}
          </text>
        </>
      ))}
      {runs.map((r, i) => {
        const x = pad.l + i * slot + (slot - bw) / 2;
        const top = y(r.seconds);
        return (
          <a href={runHref(r.run_id)}>
            <rect x={x} y={top} width={bw} height={Math.max(1, H - pad.b - top)} fill={COLOURS[r.state]} opacity={r.state === 'running' ? 0.6 : 1}>
              <title>{`${r.run_id} · ${r.state} · ${fmtSeconds(r.seconds)} · started ${fmtTime(r.started_at)}`}</title>
            </rect>
          </a>
        );
      })}
      {props.expected !== undefined ? (
        <>
          <line x1={pad.l} x2={W - pad.r} y1={y(props.expected)} y2={y(props.expected)} stroke="#bc4c00" stroke-width="2" stroke-dasharray="6 4" />
          <text x={W - pad.r} y={y(props.expected) - 4} text-anchor="end" font-size="11" fill="#bc4c00">
            expected {fmtSeconds(props.expected)}
          </text>
        </>
      ) : null}
      <text x={pad.l} y={H - 6} font-size="11" fill="#656d76">
        oldest
      </text>
      <text x={W - pad.r} y={H - 6} text-anchor="end" font-size="11" fill="#656d76">
        newest
      </text>
    </svg>
  );
}
