/**
 * Starts a real agent in-process on a free loopback port with a temp SQLite file.
 * Pass a ManualClock to move time instead of sleeping.
 */
import { createAgent, type Agent } from '../../src/agent.js';
import { parseConfig, type Config } from '../../src/config/schema.js';
import type { Clock } from '../../src/runtime/clock.js';
import { createLogger, type Logger } from '../../src/runtime/logger.js';
import { tempDir } from './temp-dir.js';

export interface TestAgent {
  agent: Agent;
  url: string;
  port: number;
  dir: string;
  logs: Record<string, unknown>[];
  push(body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string }>;
  stop(): Promise<void>;
}

export async function startAgent(opts: { config?: Record<string, unknown>; clock?: Clock; dir?: string; defaultMetrics?: boolean } = {}): Promise<TestAgent> {
  const tmp = opts.dir ? { path: opts.dir, cleanup: () => undefined } : tempDir();
  const raw = structuredClone(opts.config ?? {}) as Record<string, any>;
  raw.http = { host: '127.0.0.1', port: 0, ...(raw.http ?? {}) };
  raw.store = { ...(raw.store ?? {}), sqlite: { path: `${tmp.path}/jobpulse.db`, ...(raw.store?.sqlite ?? {}) } };
  const config: Config = parseConfig(raw);
  const logs: Record<string, unknown>[] = [];
  const logger: Logger = createLogger({ level: 'debug', write: (line) => void logs.push(JSON.parse(line)) });
  const agent = await createAgent({ config, clock: opts.clock, logger, defaultMetrics: opts.defaultMetrics ?? false });
  const port = await agent.listen();
  const url = `http://127.0.0.1:${port}`;
  const parse = async (res: Response) => {
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON: keep text */
    }
    return { status: res.status, body, text };
  };
  return {
    agent,
    url,
    port,
    dir: tmp.path,
    logs,
    async push(body, headers = {}) {
      const res = await fetch(`${url}/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return parse(res);
    },
    async get(path, headers = {}) {
      return parse(await fetch(`${url}${path}`, { headers }));
    },
    async stop() {
      await agent.stop();
      tmp.cleanup();
    },
  };
}
