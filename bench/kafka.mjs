// node bench/kafka.mjs (after npm run build) — messages/s from a Kafka topic to the durable
// store (SQLite, durability process) through the Kafka source, against the rate at which
// `kcat -C` alone drains the same topic (the ceiling). The broker is librdkafka's mock
// cluster (3 brokers, 4 partitions) run by kcat on loopback. BENCH_MESSAGES operators'
// status messages ("Completed", one run each, BENCH_JOBS job names) are produced first.
// Prints a markdown table; copy it into the README's Kafka section.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { createAgent } from '../dist/agent.js';
import { parseConfig } from '../dist/config/schema.js';
import { createLogger } from '../dist/runtime/logger.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const JOBS = Number(process.env.BENCH_JOBS ?? 100);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startMock() {
  const child = spawn('kcat', ['-X', 'test.mock.num.brokers=3', '-b', 'localhost:1', '-C', '-t', 'jobpulse-mock-keepalive', '-q'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const brokers = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d;
      const m = /(?:bootstrap\.servers=|replaced with )((?:127\.0\.0\.1:\d+,?)+)/.exec(err);
      if (m) resolve(m[1].split(',').filter(Boolean));
    });
    child.once('exit', () => reject(new Error(`kcat exited:\n${err}`)));
  });
  return { brokers, stop: () => child.kill('SIGKILL') };
}

const mock = await startMock();
const topic = `bench-${Date.now()}`;
const kafka = new Kafka({ brokers: mock.brokers, logLevel: logLevel.NOTHING });
const producer = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();
const now = new Date().toISOString();
for (let s = 0; s < MESSAGES; s += 5000) {
  const messages = [];
  for (let i = s; i < Math.min(MESSAGES, s + 5000); i++)
    messages.push({
      key: String(i),
      value: JSON.stringify({ jobId: i, status: 'Completed', errorMessage: null, generatedFields: '{"table":"t"}', rowsProcessed: 1000, completedAt: now, jobName: `job-${i % JOBS}` }),
    });
  await producer.send({ topic, messages });
}
await producer.disconnect();

// Ceiling: kcat alone reads the whole topic from the beginning and exits at its end.
const t0 = performance.now();
const kcatCount = await new Promise((resolve, reject) => {
  const c = spawn('kcat', ['-b', mock.brokers.join(','), '-C', '-t', topic, '-o', 'beginning', '-e', '-q'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let n = 0;
  c.stdout.on('data', (d) => {
    for (const b of d) if (b === 10) n++;
  });
  c.once('exit', (code) => (code === 0 ? resolve(n) : reject(new Error(`kcat -C exited ${code}`))));
});
const kcatSeconds = (performance.now() - t0) / 1000;

// jobpulse: from the moment the consumer joined its group until every run is durable.
const dir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-kafka-'));
const config = parseConfig({
  http: { host: '127.0.0.1', port: 0 },
  store: { sqlite: { path: join(dir, 'jobpulse.db') } },
  kafka: { brokers: mock.brokers, topic, group_id: `bench-${topic}`, from_beginning: true },
  log: { level: 'silent' },
});
let joinedAt;
const logger = createLogger({ level: 'info', write: (line) => { if (line.includes('kafka consumer joined group')) joinedAt = performance.now(); } });
const agent = await createAgent({ config, logger, defaultMetrics: false });
await agent.listen();
const total = () => [...Array(JOBS).keys()].reduce((s, j) => s + (agent.state.getJob(`job-${j}`)?.runs_total.succeeded ?? 0), 0);
while (joinedAt === undefined) await sleep(5);
while (total() < MESSAGES) await sleep(5);
const agentSeconds = (performance.now() - joinedAt) / 1000;
await agent.stop();
rmSync(dir, { recursive: true, force: true });
mock.stop();

const rate = (n, s) => Math.round(n / s).toLocaleString('en-US');
console.log(`${MESSAGES} status messages, 4 partitions, ${JOBS} jobs, ${cpus().length} CPUs (${cpus()[0]?.model ?? ''})\n`);
console.log('| consumer | messages | seconds | messages/s |');
console.log('|---|---|---|---|');
console.log(`| kcat -C (read only, ceiling) | ${kcatCount} | ${kcatSeconds.toFixed(2)} | ${rate(kcatCount, kcatSeconds)} |`);
console.log(`| jobpulse (decode, validate, durable commit, offset commit) | ${MESSAGES} | ${agentSeconds.toFixed(2)} | ${rate(MESSAGES, agentSeconds)} |`);
console.log(`\njobpulse / kcat time ratio: ${(agentSeconds / kcatSeconds).toFixed(2)}×`);
