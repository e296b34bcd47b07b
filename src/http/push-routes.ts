/** `POST /push`: one event or an array of them; 200 only once every event is durable. */
import { Hono } from 'hono';
import type { Config } from '../config/schema.js';
import type { IngestFn } from '../ingest/ingest.js';
import { validatePushBody } from '../ingest/validate.js';
import type { Clock } from '../runtime/clock.js';
import type { Auth } from './auth.js';
import { readJson } from './read-body.js';

export function createPushRoutes(deps: { ingest: IngestFn; limits: Config['limits']; auth: Auth; clock: Clock }): Hono {
  const app = new Hono();
  app.post('/push', deps.auth.require('write'), async (c) => {
    const body = await readJson(c, deps.limits.max_body_bytes);
    const drafts = validatePushBody(body, deps.limits, deps.clock.now());
    const results = await deps.ingest(drafts);
    if (!Array.isArray(body) && results.length === 1) {
      const r = results[0];
      return c.json({ accepted: 1, run_id: r?.run_id, results });
    }
    return c.json({ accepted: results.length, results });
  });
  return app;
}
