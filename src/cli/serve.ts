/** `jobpulse serve [--config FILE]`: runs the agent until SIGTERM/SIGINT. */
import { createAgent, type Agent } from '../agent.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../domain/errors.js';
import { createLogger } from '../runtime/logger.js';
import { VERSION } from '../version.js';

/** The URL without its password (a Redis URL may carry one). */
const redactUrl = (url: string): string => {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
};

export interface ServeIo {
  env: NodeJS.ProcessEnv;
  stderr: (s: string) => void;
  onSignal: (signal: NodeJS.Signals, fn: () => void) => void;
  exit: (code: number) => void;
}

export async function serveCommand(flags: Record<string, string | true>, io: ServeIo): Promise<number | undefined> {
  const file = typeof flags.config === 'string' ? flags.config : io.env.JOBPULSE_CONFIG;
  let config: Config;
  try {
    config = loadConfig({ file, env: io.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`jobpulse: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger({ level: config.log.level, maxBacklogBytes: config.log.max_backlog_bytes });
  // A store that cannot be opened or a port that is taken is the operator's to fix: one line
  // that names it (and a log line for the log shipper), not a stack trace.
  const cannotStart = (what: string, err: unknown): number => {
    const reason = err instanceof Error ? err.message : String(err);
    logger.error('cannot start', { what, err });
    io.stderr(`jobpulse: cannot start: ${what}: ${reason}\n`);
    return 1;
  };
  const where = config.store.kind === 'redis' ? `the redis store at ${redactUrl(config.store.redis.url)}` : `the sqlite store at ${config.store.sqlite.path}`;
  let agent: Agent;
  try {
    agent = await createAgent({ config, logger });
  } catch (err) {
    return cannotStart(`opening ${where}`, err);
  }
  let port: number;
  try {
    port = await agent.listen();
  } catch (err) {
    const code = cannotStart(`listening on ${config.http.host}:${config.http.port}`, err);
    await agent.stop().catch(() => undefined);
    return code;
  }
  logger.info('jobpulse started', {
    version: VERSION,
    listen: `${config.http.host}:${port}`,
    store: config.store.kind,
    db: config.store.kind === 'redis' ? redactUrl(config.store.redis.url) : config.store.sqlite.path,
    durability: config.store.sqlite.durability,
    jobs_loaded: agent.state.jobCount,
    auth: {
      write: config.auth.write_tokens.length > 0 ? 'token' : 'open',
      read: config.auth.read_tokens.length > 0 ? 'token' : 'open',
      admin: config.auth.admin_tokens.length > 0 ? 'token' : 'disabled',
    },
    config_file: file ?? null,
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      logger.warn('second signal: exiting now', { signal });
      io.exit(1);
      return;
    }
    logger.info('signal received, shutting down', { signal });
    agent.stop().then(
      () => io.exit(0),
      () => io.exit(1),
    );
  };
  io.onSignal('SIGTERM', () => onSignal('SIGTERM'));
  io.onSignal('SIGINT', () => onSignal('SIGINT'));
  return undefined;
}
