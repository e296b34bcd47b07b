import { describe, expect, it } from 'vitest';
import { streamJsonList } from '../../src/http/json-stream.js';

const readAll = async (s: ReadableStream<Uint8Array>): Promise<{ text: string; chunks: number }> => {
  let text = '';
  let chunks = 0;
  const dec = new TextDecoder();
  for await (const c of s as unknown as AsyncIterable<Uint8Array>) {
    text += dec.decode(c, { stream: true });
    chunks += 1;
  }
  return { text, chunks };
};

describe('streamJsonList', () => {
  it('writes the same document JSON.stringify would, in chunks', async () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({ n: i, s: `é"\\${i}` }));
    const { text, chunks } = await readAll(streamJsonList('jobs', items, (x) => ({ ...x, twice: x.n * 2 }), { head: { status: 'success' }, tail: { next_cursor: null, skipped: undefined } }));
    expect(text.startsWith('{"status":"success","jobs":[')).toBe(true);
    expect(JSON.parse(text)).toEqual({ status: 'success', jobs: items.map((x) => ({ ...x, twice: x.n * 2 })), next_cursor: null });
    expect(chunks).toBeGreaterThan(1);
    expect(JSON.parse((await readAll(streamJsonList('jobs', [], (x) => x))).text)).toEqual({ jobs: [] });
  });

  it('lets the event loop run between chunks', async () => {
    const reader = streamJsonList('jobs', Array.from({ length: 1000 }, (_, i) => i), (x) => x).getReader();
    await reader.read();
    let ran = false;
    setImmediate(() => (ran = true));
    const second = await reader.read();
    expect(second.done).toBe(false);
    expect(ran).toBe(true);
    await reader.cancel();
  });
});
