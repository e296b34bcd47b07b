/** `jobpulse serve [--config FILE]`: runs the agent until SIGTERM/SIGINT. */
import { createAgent } from '../agent.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../domain/errors.js';
import { createLogger } from '../runtime/logger.js';
import { VERSION } from '../version.js';

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
  const agent = await createAgent({ config, logger });
  const port = await agent.listen();
  logger.info('jobpulse started', {
    version: VERSION,
    listen: `${config.http.host}:${port}`,
    store: config.store.kind,
    db: config.store.sqlite.path,
    durability: config.store.sqlite.durability,
    jobs_loaded: agent.state.jobCount,
    auth: {
      write: config.auth.write_tokens.length > 0,
      read: config.auth.read_tokens.length > 0,
      admin: config.auth.admin_tokens.length > 0,
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
