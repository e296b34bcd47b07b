/** The only module that touches `process`: argv → command. */
import { parseArgs } from './cli/args.js';
import { serveCommand } from './cli/serve.js';
import { VERSION } from './version.js';

const USAGE = `usage: jobpulse <command> [options]

commands:
  serve [--config FILE]   run the agent (config: YAML file, JOBPULSE_* environment overrides)
  version                 print the version

See jobpulse.example.yaml for every setting.
`;

export async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const args = parseArgs(rest);
      return serveCommand(args.flags, {
        env: process.env,
        stderr: (s) => process.stderr.write(s),
        onSignal: (sig, fn) => process.on(sig, fn),
        exit: (code) => process.exit(code),
      });
    }
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`jobpulse: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}
