/** Reads a request body under a byte limit and decodes JSON, with the errors a client can act on. */
import type { Context } from 'hono';
import { MalformedBodyError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../domain/errors.js';

export async function readBody(c: Context, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new PayloadTooLargeError(`body is ${declared} bytes, over the ${maxBytes}-byte limit (limits.max_body_bytes)`);
  }
  const body = c.req.raw.body;
  if (!body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new PayloadTooLargeError(`body is over the ${maxBytes}-byte limit (limits.max_body_bytes)`);
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
}

export async function readJson(c: Context, maxBytes: number): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    throw new UnsupportedMediaTypeError(`expected Content-Type: application/json, got ${type ? JSON.stringify(type) : 'none'}`);
  }
  const bytes = await readBody(c, maxBytes);
  if (bytes.byteLength === 0) throw new MalformedBodyError('empty body: expected a JSON event or an array of events');
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new MalformedBodyError(`malformed JSON: ${(err as Error).message}`);
  }
}
