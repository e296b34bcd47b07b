// node --import tsx bench/spark.mjs — one Spark poll cycle over 1,000 tracked runs.
// A real agent (in-process, temp SQLite) polls the fake Spark server (real YARN fixtures,
// ids derived in code) with a simulated per-request latency. Reports each cycle's
// duration, requests/s and the most requests the cluster saw in flight at once.
// Env: BENCH_RUNS (1000), BENCH_LATENCY_MS (20), BENCH_CONCURRENCY (5,20).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgent } from '../src/agent.ts';
import { parseConfig } from '../src/config/schema.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { startFakeSpark, yarnSequence } from '../test/support/fake-spark.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 1000);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 20);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '5,20').split(',').map(Number);

const rows = [];
for (const maxConcurrent of CONCURRENCY) {
  const fake = await startFakeSpark();
  const dir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-spark-'));
  const config = parseConfig({
    http: { host: '127.0.0.1', port: 0 },
    store: { sqlite: { path: join(dir, 'bench.db') } },
    limits: { max_jobs: 1_000_000 },
    spark: { clusters: [{ name: 'bench', kind: 'yarn', base_url: fake.url, interval: '1h', max_concurrent: maxConcurrent, request_timeout: '30s' }] },
  });
  const agent = await createAgent({ config, logger: createLogger({ level: 'error' }), defaultMetrics: false });
  const ids = Array.from({ length: RUNS }, (_, i) => `application_1700840000000_${String(i).padStart(5, '0')}`);
  // accepted → running → finished: cycle 1 moves every run to running, 2 is steady, 3 finishes them.
  for (const id of ids) {
    const [, running, done] = yarnSequence(id, 'finished_succeeded');
    fake.route(`/ws/v1/cluster/apps/${id}`, [running, running, done]);
  }
  await agent.ingest.ingest(ids.map((id, i) => ({ job_name: `spark-job-${i % 100}`, run_id: `bench-${i}`, event: 'queued', source: 'push', labels: { spark_app_id: id } })));
  fake.setLatency(LATENCY);
  for (const [label] of [['queued → running'], ['steady (no change)'], ['running → succeeded']]) {
    fake.resetStats();
    const t0 = performance.now();
    const [r] = await agent.spark.cycle();
    const seconds = (performance.now() - t0) / 1000;
    rows.push({ maxConcurrent, label, polled: r.polled, emitted: r.emitted, requests: fake.requests, seconds, rps: fake.requests / seconds, maxInFlight: fake.maxInFlight, errors: JSON.stringify(r.errors) });
  }
  const left = [...agent.state.allRuns()].filter((r) => r.state !== 'succeeded').length;
  if (left > 0) throw new Error(`${left} runs did not finish`);
  await agent.stop();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(`\nSpark poller, ${RUNS} tracked YARN runs, fake cluster latency ${LATENCY} ms per request\n`);
console.log('| max_concurrent | cycle | polled | events | requests | duration s | requests/s | max in flight | errors |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.maxConcurrent} | ${r.label} | ${r.polled} | ${r.emitted} | ${r.requests} | ${r.seconds.toFixed(2)} | ${Math.round(r.rps)} | ${r.maxInFlight} | ${r.errors} |`);
