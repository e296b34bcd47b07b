/** Reads a request body under a byte limit and decodes JSON, with the errors a client can act on. */
import type { IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { Context } from 'hono';
import { MalformedBodyError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../domain/errors.js';
import { strictUtf8 } from '../runtime/utf8.js';

const checkDeclared = (header: string | undefined, maxBytes: number): void => {
  const declared = Number(header);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new PayloadTooLargeError(`body is ${declared} bytes, over the ${maxBytes}-byte limit (limits.max_body_bytes)`);
  }
};

/** The body of a plain node:http request, under the same limit and errors as `readBody`. */
export function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  checkDeclared(req.headers['content-length'], maxBytes);
  return readIncoming(req, maxBytes);
}

export async function readBody(c: Context, maxBytes: number): Promise<Uint8Array> {
  checkDeclared(c.req.header('content-length'), maxBytes);
  // On Node, read the IncomingMessage directly: touching the web Request's body makes
  // @hono/node-server build a full undici Request per push, a third of the CPU of a push.
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming && !incoming.readableDidRead) return readIncoming(incoming, maxBytes);
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
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
}

const tooLarge = (maxBytes: number): PayloadTooLargeError =>
  new PayloadTooLargeError(`body is over the ${maxBytes}-byte limit (limits.max_body_bytes)`);

function readIncoming(req: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.resume(); // discard the rest; the 413 closes the connection
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new MalformedBodyError(`request body could not be read: ${err.message}`));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * A body of any size read to its end, of which only the first `keep` bytes are kept: for a
 * ping's log, where a long log must still record the run's outcome (refused with 413, the
 * finish was lost and the run stayed running). The rest is counted and let go as it comes.
 */
export async function readBodyHead(c: Context, keep: number): Promise<{ head: Uint8Array; total: number }> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let total = 0;
  const take = (chunk: Uint8Array): void => {
    total += chunk.byteLength;
    if (kept >= keep) return;
    // A copy of the part kept: a view would hold the whole chunk.
    const part = chunk.byteLength <= keep - kept ? chunk : Uint8Array.prototype.slice.call(chunk, 0, keep - kept);
    chunks.push(part);
    kept += part.byteLength;
  };
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming && !incoming.readableDidRead) {
    try {
      for await (const chunk of incoming) take(chunk as Buffer);
    } catch (err) {
      throw new MalformedBodyError(`request body could not be read: ${(err as Error).message}`);
    }
  } else {
    const body = c.req.raw.body;
    if (body) {
      const reader = body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        take(value);
      }
    }
  }
  return { head: chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks, kept), total };
}

export function requireJsonType(type: string | undefined): void {
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type ?? '')) {
    throw new UnsupportedMediaTypeError(`expected Content-Type: application/json, got ${type ? JSON.stringify(type) : 'none'}`);
  }
}

export async function readJson(c: Context, maxBytes: number): Promise<unknown> {
  requireJsonType(c.req.header('content-type'));
  return parseJson(await readBody(c, maxBytes));
}

export function parseJson(bytes: Uint8Array): unknown {
  if (bytes.byteLength === 0) throw new MalformedBodyError('empty body: expected a JSON event or an array of events');
  const text = strictUtf8(bytes);
  if (text === undefined) throw new MalformedBodyError('body is not valid UTF-8: JSON text must be');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new MalformedBodyError(`malformed JSON: ${(err as Error).message}`);
  }
}

/**
 * A request body as sent with `Content-Encoding` undone: identity, or gzip (Prometheus
 * clients gzip pushes; large batched pushes compress ~10×). The decoded body may not exceed
 * `maxDecoded` (413): a few KiB of gzip can hold gigabytes. Other codings are refused (415).
 */
export function decodeContentEncoding(bytes: Uint8Array, encoding: string | undefined, maxDecoded: number): Uint8Array {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return bytes;
  if (enc !== 'gzip' && enc !== 'x-gzip') throw new UnsupportedMediaTypeError(`unsupported Content-Encoding ${JSON.stringify(enc)} (gzip or identity)`);
  try {
    return gunzipSync(bytes, { maxOutputLength: maxDecoded });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new PayloadTooLargeError(`body is over the ${maxDecoded}-byte limit once decompressed`);
    throw new MalformedBodyError(`could not gunzip the body: ${(err as Error).message}`);
  }
}
