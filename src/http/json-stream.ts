/**
 * A large JSON answer written in chunks, the event loop free between them.
 *
 * Why: `GET /api/v1/jobs` at 10k jobs was 7 MB of JSON built in one go, ~140 ms during which
 * no push was answered (and 5× that at 50k); a dashboard or `jobpulse jobs --watch` polling it
 * put that into every push's tail latency. Items are rendered `CHUNK` at a time, each chunk
 * after a `setImmediate`, so pushes waiting on the socket are served in between.
 */
const CHUNK = 250;

/**
 * `{ ...head, [key]: [render(item) for item of items], ...tail }` as a streamed body:
 * `head` and `tail` are small objects serialised whole (undefined values left out, as
 * JSON.stringify does), `items` are rendered lazily.
 */
export function streamJsonList<T>(
  key: string,
  items: readonly T[],
  render: (item: T) => unknown,
  extra: { head?: Record<string, unknown>; tail?: Record<string, unknown> } = {},
): ReadableStream<Uint8Array> {
  const fields = (o: Record<string, unknown> | undefined): string[] =>
    Object.entries(o ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  const head = fields(extra.head).map((f) => `${f},`).join('');
  const tail = fields(extra.tail).map((f) => `,${f}`).join('');
  const enc = new TextEncoder();
  let at = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (at > 0) await new Promise((r) => setImmediate(r));
      let out = at === 0 ? `{${head}${JSON.stringify(key)}:[` : '';
      const end = Math.min(items.length, at + CHUNK);
      for (let i = at; i < end; i++) out += (i > 0 ? ',' : '') + JSON.stringify(render(items[i] as T));
      at = end;
      if (at >= items.length) {
        out += `]${tail}}`;
        controller.enqueue(enc.encode(out));
        controller.close();
        return;
      }
      controller.enqueue(enc.encode(out));
    },
  });
}
