/** Text exposition 0.0.4 and OpenMetrics 1.0 building blocks shared by every renderer. */
import type { MetricName } from './names.js';

export type ExpositionFormat = 'text' | 'openmetrics';

export const CONTENT_TYPES: Record<ExpositionFormat, string> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** Picks OpenMetrics only when the scraper asks for it, as Prometheus does with its Accept header. */
export const negotiateFormat = (accept: string | undefined): ExpositionFormat =>
  accept?.includes('application/openmetrics-text') ? 'openmetrics' : 'text';

export const escapeLabelValue = (v: string): string =>
  /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;

const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

export const formatValue = (v: number): string =>
  Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);

/** HELP and TYPE lines; OpenMetrics names a counter family without its `_total` suffix. */
export function familyHeader(metric: MetricName, format: ExpositionFormat): string {
  const family = format === 'openmetrics' && metric.type === 'counter' ? metric.name.replace(/_total$/, '') : metric.name;
  return `# HELP ${family} ${escapeHelp(metric.help)}\n# TYPE ${family} ${metric.type}\n`;
}
