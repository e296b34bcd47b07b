/**
 * Starts librdkafka's mock cluster (a real Kafka protocol implementation inside a kcat
 * process) and returns its bootstrap servers. kcat prints, at notice level on stderr:
 *   %5|...|MOCK|...: Mock cluster enabled: original bootstrap.servers and security.protocol
 *   ignored and replaced with 127.0.0.1:41695,127.0.0.1:44737,127.0.0.1:33511
 * (with `-d mock` also `... bootstrap.servers=127.0.0.1:...`). The brokers listen on
 * kernel-chosen loopback ports. Topics are created on first use (4 partitions);
 * admin createTopics is not supported by the mock.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface KafkaMock {
  brokers: string[];
  /** With `debug`: the mock's consumer-group log lines so far (joins, leaves, rebalances). */
  groupLog(): string[];
  /** Freezes the whole cluster (SIGSTOP): connections stay open and nothing answers, as a hung host or a cut network. */
  pause(): void;
  /** Lets a paused cluster go on (SIGCONT), its data and groups as they were. */
  resume(): void;
  /** Kills kcat (and the cluster with it). Idempotent. */
  stop(): Promise<void>;
}

const SERVERS = /(?:bootstrap\.servers=|replaced with )((?:127\.0\.0\.1:\d+,?)+)/;

export function startKafkaMock(opts: { brokers?: number; debug?: boolean } = {}): Promise<KafkaMock> {
  const args = ['-X', `test.mock.num.brokers=${opts.brokers ?? 3}`, '-b', 'localhost:1', '-C', '-t', 'jobpulse-mock-keepalive', '-q'];
  if (opts.debug) args.push('-d', 'mock');
  const child: ChildProcess = spawn('kcat', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const groupLines: string[] = [];
  let partial = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
    })();
    return stopping;
  };
  return new Promise((resolve, reject) => {
    let err = '';
    let found = false;
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`kcat mock cluster printed no bootstrap servers in 10 s:\n${err}`));
    }, 10_000);
    // stderr keeps flowing (librdkafka logs); it is always drained so kcat never blocks on a full pipe.
    child.stderr?.on('data', (d: Buffer) => {
      if (opts.debug) {
        const lines = (partial + d.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) if (l.includes('consumer group')) groupLines.push(l);
      }
      if (found) return;
      err += d.toString();
      const m = SERVERS.exec(err);
      if (m) {
        found = true;
        clearTimeout(timer);
        resolve({
          brokers: (m[1] as string).split(',').filter(Boolean),
          groupLog: () => [...groupLines],
          pause: () => void child.kill('SIGSTOP'),
          resume: () => void child.kill('SIGCONT'),
          stop,
        });
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kcat exited (${code}) before the mock cluster was up:\n${err}`));
    });
  });
}
