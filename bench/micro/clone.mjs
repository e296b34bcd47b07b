// Why ingest copies drafts with Object.assign, not object spread: on Node 20 (V8 11.3) a
// spread of a validated draft leaves V8's fast clone path, and the copies it makes are slow
// to read later too. Prints ns per copy for both, and for a read of the copy's fields.
//   npm run build && node bench/micro/clone.mjs
import { parseConfig } from '../../dist/config/schema.js';
import { validatePushBody } from '../../dist/ingest/validate.js';

const { limits } = parseConfig({});
const body = Array.from({ length: 100 }, (_, i) => ({ job_name: `job-${i}`, run_id: `run-${i}`, event: 'heartbeat', progress: i }));
const drafts = validatePushBody(JSON.parse(JSON.stringify(body)), limits, Date.now());
const N = 1_000_000;

const spread = (d) => ({ ...d, event_id: d.event_id ?? 'id', run_id: d.run_id, timestamp: d.timestamp ?? 1, received_at: 2 });
const assign = (d) => {
  const e = Object.assign({}, d);
  e.event_id = d.event_id ?? 'id';
  e.run_id = d.run_id;
  e.timestamp = d.timestamp ?? 1;
  e.received_at = 2;
  return e;
};

for (let round = 0; round < 2; round++)
  for (const copy of [spread, assign]) {
    let sum = 0;
    const t0 = performance.now();
    const copies = [];
    for (let i = 0; i < N; i++) copies.push(copy(drafts[i % 100]));
    const t1 = performance.now();
    for (const e of copies) sum += e.received_at + (e.progress ?? 0) + e.job_name.length;
    const t2 = performance.now();
    console.log(`${copy.name.padEnd(6)} copy ${(((t1 - t0) * 1e6) / N).toFixed(0)} ns, read ${(((t2 - t1) * 1e6) / N).toFixed(0)} ns (${sum})`);
  }
