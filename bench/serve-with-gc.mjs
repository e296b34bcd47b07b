// `jobpulse serve` for the bench's memory figure: the same entry point as bin/jobpulse.js,
// started with --expose-gc, plus SIGUSR2 → a full GC, so RSS is read after a collection
// rather than with whatever garbage the last scrape left (the heap only shrinks on GC).
// BENCH_MEMORY_DETAIL=1 prints process.memoryUsage() and V8's heap spaces after each GC.
import { getHeapSpaceStatistics } from 'node:v8';
import { main } from '../dist/main.js';

const mib = (n) => `${(n / 2 ** 20).toFixed(1)}`;
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  if (!process.env.BENCH_MEMORY_DETAIL) return;
  const m = process.memoryUsage();
  const spaces = getHeapSpaceStatistics()
    .filter((s) => s.space_size > 0)
    .map((s) => `${s.space_name} ${mib(s.space_used_size)}/${mib(s.space_size)}`);
  process.stderr.write(`memory MiB: rss ${mib(m.rss)} heapTotal ${mib(m.heapTotal)} heapUsed ${mib(m.heapUsed)} external ${mib(m.external)} arrayBuffers ${mib(m.arrayBuffers)}; ${spaces.join(', ')}\n`);
});
main(['serve']).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { process.stderr.write(`${err?.stack ?? err}\n`); process.exit(1); },
);
