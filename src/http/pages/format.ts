/** Human formatting for the status page: times in UTC, durations in the largest useful units. */

/** `2026-11-23 12:00:05Z`: ISO without the T and milliseconds, still unambiguous (UTC). */
export const fmtTime = (ms: number | undefined): string =>
  ms === undefined ? '—' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');

/** `1h 02m`, `3m 05s`, `42s`, `850ms`. */
export function fmtSeconds(s: number | undefined | null): string {
  if (s === undefined || s === null || !Number.isFinite(s)) return '—';
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  const t = Math.round(s);
  const d = Math.floor(t / 86_400);
  const h = Math.floor((t % 86_400) / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${pad(h)}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(sec)}s`;
  return `${sec}s`;
}

/** `5m 02s ago`, or `in 3s` for a time ahead of `now` (client clock skew). */
export const fmtAgo = (ms: number | undefined, now: number): string =>
  ms === undefined ? '—' : ms <= now ? `${fmtSeconds((now - ms) / 1000)} ago` : `in ${fmtSeconds((ms - now) / 1000)}`;

export const fmtPercent = (x: number | null | undefined): string =>
  x === null || x === undefined ? '—' : `${(x * 100).toFixed(x === 1 || x === 0 ? 0 : 1)}%`;
