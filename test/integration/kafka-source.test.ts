/**
 * The Kafka source against a real Kafka protocol implementation: librdkafka's mock
 * cluster (3 brokers, topics auto-created with 4 partitions) run by kcat. Messages are
 * produced with kafkajs and, once, with kcat -P (a different client). A fresh topic and
 * consumer group per test.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import { hasBinary } from '../support/require-binary.js';
import { spawnAgent, type AgentProcess } from '../support/spawn-agent.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startKafkaMock, type KafkaMock } from '../support/start-kafka-mock.js';
import { tempDir } from '../support/temp-dir.js';
import { parseConfig } from '../../src/config/schema.js';
import type { IngestFn } from '../../src/ingest/ingest.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { createKafkaSource } from '../../src/sources/kafka/kafka-source.js';
import { metricValue, waitFor } from '../support/wait-for.js';

const has = hasBinary('kcat', 'kcat');

describe.skipIf(!has)('Kafka source (librdkafka mock cluster via kcat)', () => {
  let mock: KafkaMock;
  let kafka: Kafka;
  let producer: Producer;
  let admin: Admin;
  const agents: TestAgent[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    mock = await startKafkaMock({ debug: true });
    kafka = new Kafka({ clientId: 'jobpulse-test', brokers: mock.brokers, logLevel: logLevel.NOTHING });
    producer = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await producer?.disconnect();
    await admin?.disconnect();
    await mock?.stop();
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    for (const c of cleanups.splice(0)) await c();
  });

  const names = () => {
    const id = randomUUID().slice(0, 8);
    return { topic: `status-${id}`, group: `group-${id}` };
  };
  const kafkaConfig = (topic: string, group: string, extra: Record<string, unknown> = {}) => ({
    kafka: { brokers: mock.brokers, topic, group_id: group, from_beginning: true, session_timeout: '6s', retry: { initial: '100ms', max: '1s' }, ...extra },
  });
  const start = async (config: Record<string, unknown>, dir?: string): Promise<TestAgent> => {
    const a = await startAgent({ config, ...(dir ? { dir } : {}) });
    agents.push(a);
    return a;
  };
  const send = (topic: string, messages: { key?: string; value: unknown }[]) =>
    producer.send({
      topic,
      messages: messages.map((m) => ({ key: m.key ?? null, value: typeof m.value === 'string' ? m.value : JSON.stringify(m.value) })),
    });
  const metrics = async (a: { get?: TestAgent['get']; url: string }): Promise<string> => (await fetch(`${a.url}/metrics`)).text();
  const runsOf = async (a: { url: string }, job: string): Promise<number> =>
    metricValue(await metrics(a), `job_runs_total{job_name="${job}",outcome="succeeded"}`) ?? 0;
  const committed = async (group: string, topic: string): Promise<number> => {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return (t?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
  };

  it('turns status messages on several partitions into runs and commits offsets after they are durable', async () => {
    const { topic, group } = names();
    const runs = 40;
    const msgs = [];
    for (let i = 0; i < runs; i++) {
      const jobName = `etl-${i % 4}`;
      msgs.push({ key: String(1000 + i), value: { jobId: 1000 + i, status: 'Running', jobName } });
      msgs.push({
        key: String(1000 + i),
        value: {
          jobId: 1000 + i,
          status: i % 2 ? 'COMPLETED' : 'Succeeded',
          errorMessage: null,
          generatedFields: JSON.stringify({ table: `t${i}` }),
          rowsProcessed: 100,
          completedAt: new Date().toISOString(),
          jobName,
        },
      });
    }
    await send(topic, msgs);
    const a = await start(kafkaConfig(topic, group));

    await waitFor(async () => {
      let total = 0;
      for (let j = 0; j < 4; j++) total += await runsOf(a, `etl-${j}`);
      return total === runs;
    }, { what: `${runs} finished runs` });
    const text = await metrics(a);
    for (let j = 0; j < 4; j++) {
      expect(metricValue(text, `job_runs_total{job_name="etl-${j}",outcome="succeeded"}`)).toBe(runs / 4);
      expect(metricValue(text, `job_records_processed_total{job_name="etl-${j}"}`)).toBe((runs / 4) * 100);
    }
    const lagSeries = text.split('\n').filter((l) => l.startsWith(`jobpulse_kafka_consumer_lag{topic="${topic}"`));
    expect(lagSeries.length).toBeGreaterThanOrEqual(2);
    expect(metricValue(text, 'jobpulse_kafka_connected')).toBe(1);

    const run = (await a.get('/api/v1/runs/1003')).body;
    expect(run).toMatchObject({ job_name: 'etl-3', state: 'succeeded', records_processed: 100, metadata: { generatedFields: { table: 't3' } } });
    expect(run.events.map((e: { event: string; source: string }) => `${e.source}:${e.event}`)).toEqual(['kafka:started', 'kafka:succeeded']);
    expect((await a.get('/readyz')).body.checks).toContainEqual({ name: 'kafka', ok: true });

    await waitFor(async () => (await committed(group, topic)) === runs * 2, { what: 'every offset committed' });
    await waitFor(async () => metricValue(await metrics(a), 'jobpulse_kafka_messages_total{result="ok"}') === runs * 2, { what: 'ok count' });
  });

  it('a batch with a new job over limits.max_jobs: that job\'s messages are refused and counted, the rest applied, the partition moves on', async () => {
    const { topic, group } = names();
    // One key: one partition, so the four messages arrive in one batch, in order.
    const msg = (jobId: string, jobName: string) => ({ key: 'one-partition', value: { jobId, status: 'Completed', jobName } });
    await send(topic, [msg('lim-1', 'job-a'), msg('lim-2', 'job-b'), msg('lim-3', 'job-c'), msg('lim-4', 'job-a')]);
    const a = await start({ ...kafkaConfig(topic, group), limits: { max_jobs: 2 } });
    await waitFor(async () => (await committed(group, topic)) === 4, { what: 'every offset committed' });
    const text = await metrics(a);
    expect(metricValue(text, 'job_runs_total{job_name="job-a",outcome="succeeded"}')).toBe(2);
    expect(metricValue(text, 'job_runs_total{job_name="job-b",outcome="succeeded"}')).toBe(1);
    expect(text).not.toContain('job_name="job-c"');
    expect(metricValue(text, 'jobpulse_kafka_messages_total{result="ok"}')).toBe(3);
    expect(metricValue(text, 'jobpulse_kafka_messages_total{result="refused"}')).toBe(1);
    expect((await a.get('/api/v1/runs/lim-4')).body).toMatchObject({ job_name: 'job-a', state: 'succeeded' });
  });

  it('a fetched batch larger than kafka.ingest_chunk is committed range by range, in order', async () => {
    const { topic, group } = names();
    // One key: one partition and one fetch; with chunks of 2, a run's Running and Completed
    // land in different ranges and must still apply in order.
    const msgs = [];
    for (let i = 0; i < 4; i++) msgs.push({ key: 'one', value: { jobId: `chunk-${i}`, status: 'Running', jobName: 'chunked' } });
    for (let i = 0; i < 4; i++) msgs.push({ key: 'one', value: { jobId: `chunk-${i}`, status: 'Completed', jobName: 'chunked', rowsProcessed: 10 } });
    msgs.push({ key: 'one', value: 'not json' });
    await send(topic, msgs);
    const a = await start(kafkaConfig(topic, group, { ingest_chunk: 2 }));
    await waitFor(async () => (await committed(group, topic)) === 9, { what: 'every offset committed' });
    const text = await metrics(a);
    expect(metricValue(text, 'job_runs_total{job_name="chunked",outcome="succeeded"}')).toBe(4);
    expect(metricValue(text, 'job_records_processed_total{job_name="chunked"}')).toBe(40);
    expect(metricValue(text, 'jobpulse_kafka_messages_total{result="ok"}')).toBe(8);
    expect(metricValue(text, 'jobpulse_kafka_messages_total{result="invalid_json"}')).toBe(1);
    const run = (await a.get('/api/v1/runs/chunk-3')).body;
    expect(run.events.map((e: { event: string; applied: boolean }) => `${e.event}:${e.applied}`)).toEqual(['started:true', 'succeeded:true']);
  });

  it('within one large fetched batch, committed offsets advance once a second of ranges has passed, before the batch ends', async () => {
    const { topic, group } = names();
    // One key, one produce request: one partition, one record batch, one fetch of 20 messages
    // (maxBytesPerPartition is 4 MiB) that ingest_chunk 2 cuts into 10 ranges.
    await send(topic, Array.from({ length: 20 }, (_, i) => ({ key: 'one', value: { jobId: `mid-${i}`, status: 'Completed', jobName: 'mid-batch' } })));
    const a = await startAgent();
    cleanups.push(() => a.stop());
    const clock = new ManualClock(Date.now());
    let calls = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let heldAt!: () => void;
    const holding = new Promise<void>((r) => (heldAt = r));
    // Each range takes 600 ms of the source's clock: a commit is due after ranges 2 and 4.
    // The fifth is made durable, then held, so the batch cannot reach its end meanwhile.
    const ingest: IngestFn = async (drafts, o) => {
      const results = await a.agent.ingest.ingest(drafts, o);
      clock.advance(600);
      if (++calls === 5) {
        heldAt();
        await held;
      }
      return results;
    };
    const source = createKafkaSource({
      ingest,
      config: parseConfig(kafkaConfig(topic, group, { ingest_chunk: 2 })),
      logger: a.agent.logger,
      clock,
      selfMetrics: a.agent.selfMetrics,
    });
    cleanups.unshift(async () => {
      release();
      await source.stop();
    });
    await source.start();
    await holding;
    expect(await committed(group, topic)).toBe(8);
    release();
    await waitFor(async () => (await committed(group, topic)) === 20, { what: 'the end of the batch committed' });
    expect(calls).toBe(10);
    expect(await runsOf(a, 'mid-batch')).toBe(20);
  });

  it('numeric jobIds beyond 2^53 that differ only past the 16th digit are two runs, and one finishing leaves the other running', async () => {
    const { topic, group } = names();
    // As a producer serializing Java longs writes them: JSON numbers that a double rounds to one value.
    const status = (id: string, s: string) => ({ key: 'one', value: `{"jobId":${id},"status":"${s}","jobName":"f-huge"}` });
    await send(topic, [status('12345678901234567891', 'Running'), status('12345678901234567892', 'Running'), status('12345678901234567891', 'Completed')]);
    const a = await start(kafkaConfig(topic, group));
    await waitFor(async () => (await committed(group, topic)) === 3, { what: 'every offset committed' });
    const one = (await a.get('/api/v1/runs/12345678901234567891')).body;
    const two = (await a.get('/api/v1/runs/12345678901234567892')).body;
    expect(one).toMatchObject({ job_name: 'f-huge', state: 'succeeded' });
    expect(one.events).toHaveLength(2);
    expect(two).toMatchObject({ job_name: 'f-huge', state: 'running' });
    expect(two.events).toHaveLength(1);
    expect((await a.get('/api/v1/runs/12345678901234567000')).status).toBe(404);
  });

  it('consumer lag: every assigned partition reads 0 once idle at the end of the topic, also after a restart with nothing new', async () => {
    const { topic, group } = names();
    const lagOf = (text: string): Map<string, number> => {
      const out = new Map<string, number>();
      for (const p of ['0', '1', '2', '3']) {
        const v = metricValue(text, `jobpulse_kafka_consumer_lag{topic="${topic}",partition="${p}"}`);
        if (v !== undefined) out.set(p, v);
      }
      return out;
    };
    const allZero = async (a: TestAgent): Promise<boolean> => {
      const lag = lagOf(await metrics(a));
      return lag.size === 4 && [...lag.values()].every((v) => v === 0);
    };
    // Keys 'a' and 'b' only: at most two of the four partitions ever get a message.
    await send(topic, Array.from({ length: 10 }, (_, i) => ({ key: i % 2 ? 'a' : 'b', value: { jobId: `lag-${i}`, status: 'Completed', jobName: 'lagging' } })));
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const config = kafkaConfig(topic, group, { lag_interval: '200ms' });
    const first = await startAgent({ config, dir: dir.path });
    await waitFor(async () => (await runsOf(first, 'lagging')) === 10, { what: '10 runs' });
    // Partitions that never had a batch get their series from the brokers' offsets.
    await waitFor(() => allZero(first), { what: 'lag 0 on all 4 partitions' });
    await first.agent.stop();

    // Nothing new: the second member never receives a batch, and still reports every partition.
    const second = await start(config, dir.path);
    await waitFor(() => allZero(second), { what: 'lag 0 on all 4 partitions after the restart' });
    expect(second.logs.filter((l) => l.msg === 'kafka message skipped')).toEqual([]);
    expect(metricValue(await metrics(second), 'jobpulse_kafka_messages_total{result="ok"}') ?? 0).toBe(0);
  });

  it('consumes native /push events produced by kcat -P (another client)', async () => {
    const { topic, group } = names();
    const lines = [
      `r-kcat|${JSON.stringify({ job_name: 'kcat-job', event: 'started' })}`,
      `r-kcat|${JSON.stringify({ job_name: 'kcat-job', event: 'progress', progress: 50, records_processed: 7 })}`,
      `r-kcat|${JSON.stringify({ job_name: 'kcat-job', event: 'succeeded' })}`,
    ].join('\n');
    await new Promise<void>((resolve, reject) => {
      const p = execFile('kcat', ['-b', mock.brokers.join(','), '-P', '-t', topic, '-K', '|'], (err) => (err ? reject(err) : resolve()));
      p.stdin?.end(`${lines}\n`);
    });
    const a = await start(kafkaConfig(topic, group));
    const run = await waitFor(async () => {
      const r = await a.get('/api/v1/runs/r-kcat');
      return r.status === 200 && r.body.state === 'succeeded' ? r.body : undefined;
    }, { what: 'run r-kcat succeeded' });
    expect(run).toMatchObject({ job_name: 'kcat-job', records_processed: 7, progress: 100 });
    expect(run.events).toHaveLength(3);
  });

  it('skips poison messages between good ones: counted, logged once, dead-lettered, partition keeps moving', async () => {
    const { topic, group } = names();
    const dlq = `${topic}-dlq`;
    const ok = (id: number) => ({ key: 'k', value: { jobId: id, status: 'Completed', jobName: 'poisoned' } });
    await send(topic, [
      ok(1),
      { key: 'k', value: '{"jobId": 2, "status": "Compl' },
      ok(3),
      { key: 'k', value: { jobId: 4, status: 'Exploded', jobName: 'poisoned' } },
      ok(5),
      { key: 'k', value: { jobId: 6, status: 'Completed', jobName: 'poisoned', padding: 'x'.repeat(5000) } },
      { key: 'k', value: { hello: 'world' } },
      ok(7),
    ]);
    const a = await start(kafkaConfig(topic, group, { dead_letter_topic: dlq, max_message_bytes: 2048 }));

    await waitFor(async () => (await runsOf(a, 'poisoned')) === 4, { what: '4 good runs' });
    const text = await metrics(a);
    expect(metricValue(text, 'jobpulse_kafka_messages_total{result="ok"}')).toBe(4);
    for (const reason of ['invalid_json', 'unknown_status', 'oversize', 'invalid_shape'])
      expect(metricValue(text, `jobpulse_kafka_messages_total{result="${reason}"}`)).toBe(1);
    await waitFor(async () => (await committed(group, topic)) === 8, { what: 'poison offsets committed too' });

    const skipped = a.logs.filter((l) => l.msg === 'kafka message skipped');
    expect(skipped.map((l) => [l.offset, l.reason])).toEqual([
      ['1', 'invalid_json'],
      ['3', 'unknown_status'],
      ['5', 'oversize'],
      ['6', 'invalid_shape'],
    ]);
    for (const l of skipped) expect(l).toMatchObject({ topic, partition: expect.any(Number), source: 'kafka' });
    expect(String(skipped[2]?.excerpt)).toMatch(/…\[truncated \d+ chars\]$/);
    expect(String(skipped[2]?.excerpt).length).toBeLessThan(300);

    // The dead-letter topic holds each poison message unchanged, with why and where from.
    const reader = kafka.consumer({ groupId: `dlq-${group}` });
    cleanups.push(() => reader.disconnect());
    await reader.connect();
    await reader.subscribe({ topic: dlq, fromBeginning: true });
    const got: { value: string; reason: string; origin: string }[] = [];
    await reader.run({
      eachMessage: async ({ message }) => {
        got.push({ value: String(message.value), reason: String(message.headers?.['x-jobpulse-reason']), origin: String(message.headers?.['x-jobpulse-origin']) });
      },
    });
    await waitFor(() => got.length === 4, { what: '4 dead letters' });
    expect(got.map((g) => g.reason).sort()).toEqual(['invalid_json', 'invalid_shape', 'oversize', 'unknown_status']);
    expect(got.find((g) => g.reason === 'invalid_json')).toMatchObject({ value: '{"jobId": 2, "status": "Compl', origin: expect.stringMatching(new RegExp(`^${topic}/\\d+/1$`)) });
    expect(metricValue(await metrics(a), 'jobpulse_kafka_dead_letter_messages_total{result="ok"}')).toBe(4);
  });

  it('a consumer stopped mid-stream and restarted loses nothing and counts nothing twice', async () => {
    const { topic, group } = names();
    const total = 600;
    const msgs = Array.from({ length: total }, (_, i) => ({ key: String(i), value: { jobId: `r-${i}`, status: 'Completed', jobName: 'restarted' } }));
    await send(topic, msgs);
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const config = kafkaConfig(topic, group, { partitions_consumed_concurrently: 1 });
    const first = await startAgent({ config, dir: dir.path });
    await waitFor(async () => (await runsOf(first, 'restarted')) > 0, { what: 'some runs' });
    await first.agent.stop();
    const before = await committed(group, topic);

    const second = await start(config, dir.path);
    await waitFor(async () => (await runsOf(second, 'restarted')) === total, { what: `${total} runs after restart`, timeoutMs: 30_000 });
    await waitFor(async () => (await committed(group, topic)) === total, { what: 'all offsets committed' });
    expect(await runsOf(second, 'restarted')).toBe(total);
    expect((await second.get('/api/v1/jobs/restarted/runs?limit=1000')).body.runs).toHaveLength(total);
    // The second consumer started from what the first committed on its way out.
    expect(before).toBeGreaterThan(0);
  });

  it('kill -9 between durable commit and offset commit: re-delivered messages are applied once', async () => {
    const { topic, group } = names();
    const total = 3000;
    for (let s = 0; s < total; s += 1000)
      await send(
        topic,
        Array.from({ length: 1000 }, (_, i) => ({ key: String(s + i), value: { jobId: `k-${s + i}`, status: 'Completed', jobName: 'killed' } })),
      );
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const env = {
      JOBPULSE_KAFKA__BROKERS: mock.brokers.join(','),
      JOBPULSE_KAFKA__TOPIC: topic,
      JOBPULSE_KAFKA__GROUP_ID: group,
      JOBPULSE_KAFKA__FROM_BEGINNING: 'true',
      JOBPULSE_KAFKA__RETRY__INITIAL: '100ms',
      JOBPULSE_KAFKA__SESSION_TIMEOUT: '6s',
      JOBPULSE_LOG_LEVEL: 'warn',
    };
    const db = `${dir.path}/k.db`;
    let proc: AgentProcess = await spawnAgent({ db, env });
    cleanups.push(() => void proc.child.kill('SIGKILL'));
    await waitFor(async () => (await runsOf(proc, 'killed')) > 0, { what: 'some runs before the kill' });
    proc.child.kill('SIGKILL');
    await proc.exited;

    proc = await spawnAgent({ db, env });
    await waitFor(async () => (await runsOf(proc, 'killed')) === total, { what: `${total} runs after kill -9`, timeoutMs: 30_000 });
    await waitFor(async () => (await committed(group, topic)) === total, { what: 'all offsets committed' });
    expect(await runsOf(proc, 'killed')).toBe(total);
    proc.child.kill('SIGKILL');
    await proc.exited;
  });

  it('keeps serving while the broker is absent, reports it on /readyz and /metrics, and connects when it appears', async () => {
    const { topic, group } = names();
    const port = await freePort();
    const a = await start({
      kafka: { brokers: [`127.0.0.1:${port}`], topic, group_id: group, from_beginning: true, retry: { initial: '100ms', max: '500ms' } },
    });
    const ready = await a.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.find((c: { name: string }) => c.name === 'kafka')).toMatchObject({ ok: false, detail: expect.stringContaining(group) });
    expect(metricValue(await metrics(a), 'jobpulse_kafka_connected')).toBe(0);
    expect((await a.push({ job_name: 'still-serving', event: 'started' })).status).toBe(200);
    await waitFor(() => a.logs.some((l) => l.msg === 'kafka unreachable; retrying'), { what: 'a retry logged' });

    // The broker "appears": a TCP forwarder on the configured port to the mock's first broker.
    await send(topic, [{ key: 'late', value: { jobId: 'late-1', status: 'Completed', jobName: 'late-broker' } }]);
    const proxy = await forward(port, mock.brokers[0] as string);
    cleanups.push(() => proxy.close());
    await waitFor(async () => (await runsOf(a, 'late-broker')) === 1, { what: 'the run after the broker appeared', timeoutMs: 30_000 });
    expect((await a.get('/readyz')).status).toBe(200);
    expect(metricValue(await metrics(a), 'jobpulse_kafka_connected')).toBe(1);
  });

  it('brokers that stop answering after the join: /readyz and jobpulse_kafka_connected say so within session_timeout; once they answer, nothing is lost or counted twice', async () => {
    // A cluster of its own: the shared one must keep answering the other tests.
    const hung = await startKafkaMock();
    cleanups.push(() => hung.stop());
    const own = new Kafka({ clientId: 'jobpulse-test-hung', brokers: hung.brokers, logLevel: logLevel.NOTHING });
    const p = own.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
    await p.connect();
    cleanups.push(() => p.disconnect());
    const { topic, group } = names();
    const batch = (from: number) =>
      p.send({
        topic,
        messages: Array.from({ length: 200 }, (_, i) => ({ key: String(from + i), value: JSON.stringify({ jobId: `h-${from + i}`, status: 'Completed', jobName: 'hung' }) })),
      });
    await batch(0);
    const a = await start({
      kafka: { brokers: hung.brokers, topic, group_id: group, from_beginning: true, session_timeout: '6s', retry: { initial: '100ms', max: '1s' } },
    });
    await waitFor(async () => (await runsOf(a, 'hung')) === 200, { what: '200 runs' });
    expect((await a.get('/readyz')).status).toBe(200);

    hung.pause();
    await waitFor(async () => (await a.get('/readyz')).status === 503, { what: '/readyz failing while the brokers are silent', timeoutMs: 20_000 });
    const check = (await a.get('/readyz')).body.checks.find((c: { name: string }) => c.name === 'kafka');
    expect(check).toMatchObject({ ok: false, detail: expect.stringContaining('silent') });
    expect(metricValue(await metrics(a), 'jobpulse_kafka_connected')).toBe(0);
    // Pushes are not Kafka's: still served.
    expect((await a.push({ job_name: 'during-kafka-outage', event: 'started' })).status).toBe(200);

    hung.resume();
    await batch(200);
    await waitFor(async () => (await runsOf(a, 'hung')) === 400, { what: '400 runs after the brokers answer again', timeoutMs: 60_000 });
    await waitFor(async () => (await a.get('/readyz')).status === 200, { what: '/readyz ok again' });
    expect(metricValue(await metrics(a), 'jobpulse_kafka_connected')).toBe(1);
    expect(await runsOf(a, 'hung')).toBe(400);
  });

  it('a topic whose offsets start from 0 again (same name on a rebuilt cluster, same database): its messages are new events, not duplicates', async () => {
    const { topic, group } = names();
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const total = 300;
    const consume = async (cluster: KafkaMock, from: number, want: number): Promise<void> => {
      const k = new Kafka({ clientId: 'jobpulse-test-rebuilt', brokers: cluster.brokers, logLevel: logLevel.NOTHING });
      const p = k.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
      await p.connect();
      await p.send({
        topic,
        messages: Array.from({ length: total }, (_, i) => ({ key: String(from + i), value: JSON.stringify({ jobId: `re-${from + i}`, status: 'Completed', jobName: 'rebuilt' }) })),
      });
      await p.disconnect();
      const a = await startAgent({
        config: { kafka: { brokers: cluster.brokers, topic, group_id: group, from_beginning: true, session_timeout: '6s', retry: { initial: '100ms', max: '1s' } } },
        dir: dir.path,
      });
      try {
        await waitFor(async () => metricValue(await metrics(a), 'jobpulse_kafka_messages_total{result="ok"}') === total, { what: `${total} messages ingested` });
        expect(await runsOf(a, 'rebuilt')).toBe(want);
      } finally {
        await a.stop();
      }
    };
    const first = await startKafkaMock();
    cleanups.push(() => first.stop());
    await consume(first, 0, total);
    await first.stop();
    const rebuilt = await startKafkaMock();
    cleanups.push(() => rebuilt.stop());
    await consume(rebuilt, total, 2 * total);
  });

  it('graceful stop commits what is durable and leaves the group', async () => {
    const { topic, group } = names();
    await send(topic, Array.from({ length: 20 }, (_, i) => ({ key: String(i), value: { jobId: `g-${i}`, status: 'Completed', jobName: 'graceful' } })));
    const a = await startAgent({ config: kafkaConfig(topic, group) });
    await waitFor(async () => (await runsOf(a, 'graceful')) === 20, { what: '20 runs' });
    const leave = new RegExp(`consumer group ${group} with 0 member\\(s\\) changing state \\w+ -> \\w+: explicit member leave`);
    expect(mock.groupLog().some((l) => leave.test(l))).toBe(false);
    await a.stop();
    expect(await committed(group, topic)).toBe(20);
    // The mock does not answer DescribeGroups; its own log shows the member's LeaveGroup.
    expect(mock.groupLog().some((l) => leave.test(l))).toBe(true);
  });
});

/** A TCP forwarder on 127.0.0.1:port → target, standing in for a broker that comes up late. */
async function forward(port: number, target: string): Promise<{ close(): Promise<void> }> {
  const [host, targetPort] = target.split(':') as [string, string];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(targetPort), host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
