#!/usr/bin/env -S node --max-semi-space-size=8
// The flag halves V8's young generation (default 16 MiB per semi-space): 16 MiB less RSS
// and no measurable loss of push throughput (README, "Memory"). `npm start`, the Dockerfile
// and the benches start Node with the flags of this line.
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
import { main } from '../dist/main.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { process.stderr.write(`${err?.stack ?? err}\n`); process.exit(1); },
);
