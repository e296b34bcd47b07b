// node bench/kafka.mjs (after npm run build) — messages/s from a Kafka topic to the durable
// store (SQLite, durability process) through the Kafka source, against three ceilings measured
// in the same run: `kcat -C` alone draining the same topic (librdkafka, the issue's yardstick),
// kafkajs alone (same fetch settings, decode and discard: the best our client allows), and the
// agent's ingest() alone fed the same events without Kafka (what the store path allows).
// The broker is librdkafka's mock cluster (3 brokers, 4 partitions) run by kcat on loopback.
// BENCH_MESSAGES operators' status messages over BENCH_JOBS job names are produced first:
// with BENCH_MIX=completed (default, the worst case) each a new run that finishes at once;
// with BENCH_MIX=lifecycle, Pending, Running and Completed for each of a third as many runs,
// interleaved as overlapping runs would be. Wall seconds depend on the machine's load (printed in the header);
// the Node CPU seconds column much less. BENCH_SKIP_KAFKAJS / BENCH_SKIP_INGEST drop a ceiling
// (e.g. under `node --cpu-prof`). Prints a markdown table; copy it into the README's Kafka section.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { createAgent } from '../dist/agent.js';
import { parseConfig } from '../dist/config/schema.js';
import { bufferedLines, createLogger } from '../dist/runtime/logger.js';
import { decodeMessage } from '../dist/sources/kafka/decode-message.js';
import { stealMeter } from './support.mjs';

const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(' ');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const JOBS = Number(process.env.BENCH_JOBS ?? 100);
/** `completed`: every message a new run that finishes at once (the worst case); `lifecycle`: Pending, Running, Completed per run. */
const MIX = process.env.BENCH_MIX ?? 'completed';
if (MIX !== 'completed' && MIX !== 'lifecycle') throw new Error(`BENCH_MIX must be completed or lifecycle, not ${MIX}`);
const RUNS = MIX === 'lifecycle' ? Math.floor(MESSAGES / 3) : MESSAGES;
/** CPU seconds (user + system) this process used since `from`: less sensitive to other load than wall time. */
const cpuSeconds = (from) => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
};
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
// Message i of the topic: which run (jobId) and which status.
const specs = [];
if (MIX === 'lifecycle') {
  // Runs overlap as in a busy pipeline: run r is Pending at step r, Running LAG steps later
  // and Completed 2 × LAG steps later, so its three messages are thousands apart.
  const LAG = 2000;
  for (let step = 0; step < RUNS + 2 * LAG; step++) {
    if (step < RUNS) specs.push({ jobId: step, status: 'Pending' });
    if (step >= LAG && step - LAG < RUNS) specs.push({ jobId: step - LAG, status: 'Running' });
    if (step >= 2 * LAG && step - 2 * LAG < RUNS) specs.push({ jobId: step - 2 * LAG, status: 'Completed' });
  }
} else for (let i = 0; i < MESSAGES; i++) specs.push({ jobId: i, status: 'Completed' });
const N = specs.length;
const valueOf = (i) => {
  const { jobId, status } = specs[i];
  const done = status === 'Completed';
  return JSON.stringify({ jobId, status, errorMessage: null, generatedFields: done ? '{"table":"t"}' : null, rowsProcessed: done ? 1000 : 0, completedAt: done ? now : null, jobName: `job-${jobId % JOBS}` });
};
for (let s = 0; s < N; s += 5000) {
  const messages = [];
  for (let i = s; i < Math.min(N, s + 5000); i++)
    messages.push({
      // The run's id as key: a run's messages share a partition, so they stay in order.
      key: String(specs[i].jobId),
      value: valueOf(i),
    });
  await producer.send({ topic, messages });
}
await producer.disconnect();

// Ceiling: kcat alone reads the whole topic from the beginning and exits at its end.
const kcatSteal = stealMeter();
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
const kcatStolen = kcatSteal();

// Second ceiling: kafkajs alone (same consumer settings as the source: eachBatch, manual
// commits), decoding every message value to a string and discarding it. What the agent can
// reach at best with kafkajs as its client.
async function kafkajsAlone() {
  const c = kafka.consumer({ groupId: `bench-kafkajs-${topic}`, maxWaitTimeInMs: 1000, maxBytesPerPartition: 4 * 1024 * 1024, maxBytes: 32 * 1024 * 1024 });
  let joined;
  let cpu0;
  let steal;
  c.on(c.events.GROUP_JOIN, () => ((joined = performance.now()), (cpu0 = process.cpuUsage()), (steal = stealMeter())));
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  let n = 0;
  let bytes = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  await c.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 4,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, uncommittedOffsets }) => {
      for (const m of batch.messages) bytes += m.value.toString('utf8').length;
      n += batch.messages.length;
      if (batch.messages.length > 0) {
        resolveOffset(batch.lastOffset());
        await commitOffsetsIfNecessary(uncommittedOffsets());
      }
      if (n >= N) done();
    },
  });
  await finished;
  const seconds = (performance.now() - joined) / 1000;
  const cpu = cpuSeconds(cpu0);
  const stolen = steal();
  await c.disconnect();
  return { n, seconds, cpu, bytes, stolen };
}
const alone = process.env.BENCH_SKIP_KAFKAJS ? undefined : await kafkajsAlone();

/**
 * Time and CPU from `t` until every run and job row waiting behind the log (rows are written
 * after 4 s dirty) is written: work the durable-commit figure does not include, reported next
 * to it. Any query over rows first writes every row still waiting; this one reads an empty
 * window. Not agent.stop(): stopping the consumer waits for kafkajs's fetch in flight (up to
 * its 1 s long poll), which is not work.
 */
async function rowsWritten(agent, t, cpu0) {
  await agent.store.finishedRuns({ since: 0, until: 1 });
  return { seconds: (performance.now() - t) / 1000, cpu: cpuSeconds(cpu0) };
}

// The agents log as in production (a line per run state change, through the default sink
// that writes each event-loop turn's lines at once), to /dev/null.
const devNull = openSync('/dev/null', 'w');
const devNullLines = bufferedLines((chunk) => writeSync(devNull, chunk));

// Third ceiling: the agent's ingest() alone, fed the same status messages decoded up front
// (no Kafka), by 4 callers (one per partition) in requests of kafka.ingest_chunk messages, as
// the Kafka source sends them. What the store path allows.
async function ingestAlone() {
  const dir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-ingest-'));
  const config = parseConfig({ http: { host: '127.0.0.1', port: 0 }, store: { sqlite: { path: join(dir, 'jobpulse.db') } }, log: { level: 'silent' } });
  const agent = await createAgent({ config, logger: createLogger({ level: 'info', write: devNullLines }), defaultMetrics: false });
  const decodeOpts = { limits: config.limits, maxMessageBytes: config.kafka.max_message_bytes, jobNameField: 'jobName', now: Date.now() };
  const chunks = [];
  const chunk = config.kafka.ingest_chunk;
  for (let s = 0; s < N; s += chunk) {
    const drafts = [];
    for (let i = s; i < Math.min(N, s + chunk); i++) {
      const d = decodeMessage({ topic, partition: i % 4, offset: String(i), key: Buffer.from(String(specs[i].jobId)), value: Buffer.from(valueOf(i)) }, decodeOpts);
      if (!d.ok) throw new Error(d.detail);
      drafts.push(d.draft);
    }
    chunks.push(drafts);
  }
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  const steal = stealMeter();
  await Promise.all([0, 1, 2, 3].map(async () => {
    for (let c = chunks.shift(); c; c = chunks.shift()) await agent.ingest.ingest(c, { results: false });
  }));
  const seconds = (performance.now() - t) / 1000;
  const cpu = cpuSeconds(cpu0);
  const withRows = await rowsWritten(agent, t, cpu0);
  const stolen = steal();
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
  return { n: N, seconds, cpu, withRows, stolen };
}
const ingestOnly = process.env.BENCH_SKIP_INGEST ? undefined : await ingestAlone();

// jobpulse: from the moment the consumer joined its group until every run is durable.
const dir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-kafka-'));
const config = parseConfig({
  http: { host: '127.0.0.1', port: 0 },
  store: { sqlite: { path: join(dir, 'jobpulse.db') } },
  kafka: { brokers: mock.brokers, topic, group_id: `bench-${topic}`, from_beginning: true },
  log: { level: 'silent' },
});
let joinedAt;
let cpuAtJoin;
let agentSteal;
const logger = createLogger({
  level: 'info',
  write: (line, urgent) => {
    if (joinedAt === undefined && line.includes('kafka consumer joined group')) (joinedAt = performance.now()), (cpuAtJoin = process.cpuUsage()), (agentSteal = stealMeter());
    devNullLines(line, urgent);
  },
});
const agent = await createAgent({ config, logger, defaultMetrics: false });
await agent.listen();
const total = () => [...Array(JOBS).keys()].reduce((s, j) => s + (agent.state.getJob(`job-${j}`)?.runs_total.succeeded ?? 0), 0);
while (joinedAt === undefined) await sleep(5);
while (total() < RUNS) await sleep(5);
const agentSeconds = (performance.now() - joinedAt) / 1000;
const agentCpu = cpuSeconds(cpuAtJoin);
const agentWithRows = await rowsWritten(agent, joinedAt, cpuAtJoin);
const agentStolen = agentSteal();
await agent.stop();
rmSync(dir, { recursive: true, force: true });
mock.stop();

const rate = (n, s) => Math.round(n / s).toLocaleString('en-US');
const row = (name, n, seconds, cpu, stolen) =>
  console.log(`| ${name} | ${n} | ${seconds.toFixed(2)} | ${rate(n, seconds)} | ${cpu === undefined ? '–' : `${cpu.toFixed(2)} (${rate(n, cpu)}/CPU-s)`} | ${stolen === undefined ? '' : `${stolen.toFixed(0)}%`} |`);
console.log(
  `${N} status messages (${MIX === 'lifecycle' ? `Pending, Running, Completed for each of ${RUNS} runs, interleaved` : 'Completed, each a new run'}), 4 partitions, ${JOBS} jobs, ${cpus().length} CPUs (${cpus()[0]?.model ?? ''}), load average at start ${loadAtStart}, at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
);
// CPU steal: the share of the machine's CPU time the hypervisor took during the phase (rows
// of one phase share it); on these VMs it moved between 0% and 40% within minutes.
console.log('| consumer | messages | wall s | messages/s | Node CPU s | CPU steal |');
console.log('|---|---|---|---|---|---|');
row('kcat -C (read only, ceiling)', kcatCount, kcatSeconds, undefined, kcatStolen);
if (alone) row('kafkajs alone (fetch, decode, discard, offset commit)', alone.n, alone.seconds, alone.cpu, alone.stolen);
if (ingestOnly) {
  row('jobpulse ingest() alone (same events pre-decoded, no Kafka)', ingestOnly.n, ingestOnly.seconds, ingestOnly.cpu);
  row('… and until its rows written behind are written', ingestOnly.n, ingestOnly.withRows.seconds, ingestOnly.withRows.cpu, ingestOnly.stolen);
}
row('jobpulse (decode, validate, durable commit, offset commit)', N, agentSeconds, agentCpu);
row('… and until its rows written behind are written', N, agentWithRows.seconds, agentWithRows.cpu, agentStolen);
console.log(`\njobpulse / kcat time ratio: ${(agentSeconds / kcatSeconds).toFixed(2)}× to durable commits, ${(agentWithRows.seconds / kcatSeconds).toFixed(2)}× with the rows written behind`);
