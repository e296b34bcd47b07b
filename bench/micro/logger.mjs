// node bench/micro/logger.mjs (after npm run build) — cost of one "run state changed" log line:
// formatting alone (lines discarded), one stdout write per line, and the default sink (the
// lines of one event-loop turn written at once). Run with stdout on /dev/null or a pipe:
//   node bench/micro/logger.mjs > /dev/null    (figures are printed on stderr)
import { createLogger, bufferedLines } from '../../dist/runtime/logger.js';

const N = 200_000;
const TURN = 1_000; // lines per event-loop turn, as in a commit of 1,000 Kafka messages
const fields = (i) => ({ job_name: `etl-${i % 100}`, run_id: String(i), source: 'kafka', from: 'queued', to: 'running' });
const sinks = {
  'format only (discarded)': () => () => {},
  'one stdout write per line': () => (line) => process.stdout.write(line),
  'default: one write per turn': () => bufferedLines((chunk) => process.stdout.write(chunk)),
};
const turn = () => new Promise((r) => setImmediate(r));
for (let round = 0; round < 2; round++)
  for (const [name, make] of Object.entries(sinks)) {
    const log = createLogger({ write: make() });
    const c0 = process.cpuUsage();
    const t = performance.now();
    for (let i = 0; i < N; i += TURN) {
      for (let j = i; j < i + TURN; j++) log.info('run state changed', fields(j));
      await turn();
    }
    const cu = process.cpuUsage(c0);
    if (round === 1)
      process.stderr.write(`${name.padEnd(30)} ${(((performance.now() - t) * 1000) / N).toFixed(2)} µs/line wall, ${((cu.user + cu.system) / N).toFixed(2)} µs CPU\n`);
  }
