// Shared by the bench scripts: a free loopback port, and waiting for a URL to answer 2xx.
import { createServer } from 'node:net';

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
