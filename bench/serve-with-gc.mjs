// `jobpulse serve` for the bench's memory figure: the same entry point as bin/jobpulse.js,
// started with --expose-gc, plus SIGUSR2 → a full GC, so RSS is read after a collection
// rather than with whatever garbage the last scrape left (the heap only shrinks on GC).
import { main } from '../dist/main.js';

process.on('SIGUSR2', () => globalThis.gc?.());
main(['serve']).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { process.stderr.write(`${err?.stack ?? err}\n`); process.exit(1); },
);
