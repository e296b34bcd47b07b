// Shared by the bench scripts: a free loopback port, and waiting for a URL to answer 2xx.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The Node flags bin/jobpulse.js starts with (its shebang line), so benches run the agent as users do. */
export const AGENT_NODE_FLAGS = /^#!\/usr\/bin\/env -S node(.*)$/m.exec(readFileSync(new URL('../bin/jobpulse.js', import.meta.url), 'utf8'))[1].trim().split(/\s+/).filter(Boolean);

export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Polls `url` every 50 ms until it answers 2xx; throws after `tries`. */
export async function waitFor(url, tries = 400) {
  for (let i = 0; i < tries; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not ready: ${url}`);
}

export const waitReady = (url) => waitFor(`${url}/readyz`);
