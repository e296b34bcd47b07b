/**
 * Runs the real Prometheus Pushgateway (Debian package prometheus-pushgateway) on a free
 * loopback port, persistence off, for differential tests and the bench.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './free-port.js';

export interface RealPushgateway {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startPushgateway(extraArgs: string[] = []): Promise<RealPushgateway> {
  const port = await freePort();
  const child = spawn('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--web.enable-admin-api', '--log.level=warn', ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`pushgateway exited: ${stderr}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
