/**
 * The /metrics body as pieces of one deflate stream, compressed independently and joined
 * at scrape time.
 *
 * Why: at 10k jobs the per-job section is ~20 MB of text, cached so that a scrape only
 * renders what changed. Kept as text it was the largest single item of the agent's RSS;
 * compressed it is ~1.3 MB (the lines repeat heavily). Prometheus asks for gzip on every
 * scrape (`Accept-Encoding: gzip`), so the cached pieces go out as they are and the
 * transfer shrinks by the same factor; other clients get the text inflated on the way out.
 *
 * How: each piece is raw deflate that ends in a sync flush — byte-aligned, no final-block
 * bit — so pieces concatenate into one valid deflate stream (what pigz does), and an empty
 * final block closes it. Plain Buffers (the small, per-scrape sections) are compressed per
 * scrape for gzip clients; other clients get every part inflated on its own. The gzip
 * trailer's CRC-32 is combined from the pieces' own CRCs (zlib's crc32_combine), so a
 * scrape never touches the uncompressed bytes of a cached piece.
 */
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';

export interface Deflated {
  /** Raw deflate data ending in a sync flush (not final); empty when `len` is 0. */
  readonly z: Buffer;
  /** CRC-32 of the uncompressed bytes. */
  readonly crc: number;
  /** Uncompressed length in bytes. */
  readonly len: number;
}

/** A piece of a body: text as it is, or compressed. Neither is ever modified once handed out. */
export type BodyPart = Buffer | Deflated;

export const isDeflated = (p: BodyPart): p is Deflated => !Buffer.isBuffer(p);

/** Level 1: measured on a 10k-job body, levels 1–3 compress equally fast and within 2% of each other's size. */
const LEVEL = 1;
export const EMPTY_DEFLATED: Deflated = { z: Buffer.alloc(0), crc: 0, len: 0 };
/** An empty final block with fixed codes: ends the joined stream. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);
/** gzip member header: deflate, no flags, no mtime, unknown OS. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

export function deflate(raw: Buffer): Deflated {
  if (raw.length === 0) return EMPTY_DEFLATED;
  return { z: exact(deflateRawSync(raw, { level: LEVEL, finishFlush: constants.Z_SYNC_FLUSH })), crc: crc32(raw), len: raw.length };
}

/**
 * The bytes in memory of their own size. zlib's sync calls return a slice of their 16 KiB
 * output chunk when the output fits in one, and a cached piece is ~1.6 KiB on average: at
 * 10k jobs the cache's 1.3 MB held ~11 MB of chunks (`arrayBuffers` in process.memoryUsage()).
 * Not Buffer.from: small copies come from the shared 8 KiB pool, and a long-lived piece would
 * keep its pool slab alive.
 */
function exact(b: Buffer): Buffer {
  if (b.buffer.byteLength === b.length) return b;
  const out = Buffer.allocUnsafeSlow(b.length);
  b.copy(out);
  return out;
}

export function inflate(d: Deflated): Buffer {
  // One output chunk of the known length: with zlib's 16 KiB default the pieces came back in
  // chunks and were concatenated (about twice the time in a 10k-job inflate of every piece).
  return d.len === 0 ? Buffer.alloc(0) : inflateRawSync(d.z, { finishFlush: constants.Z_SYNC_FLUSH, chunkSize: Math.max(64, d.len) });
}

// CRC-32 (IEEE, reflected), slice-by-8: Node 20 has no zlib.crc32. ~12 ms for 20 MB here,
// about a third of what deflating the same bytes costs.
const POLY = 0xedb88320;
const T = new Int32Array(256 * 8);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? POLY ^ (c >>> 1) : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) T[k * 256 + n] = ((T[(k - 1) * 256 + n] as number) >>> 8) ^ (T[(T[(k - 1) * 256 + n] as number) & 0xff] as number);

export function crc32(buf: Uint8Array, crc = 0): number {
  let c = ~crc;
  let i = 0;
  const n8 = buf.length - 8;
  for (; i <= n8; i += 8) {
    const a = c ^ ((buf[i] as number) | ((buf[i + 1] as number) << 8) | ((buf[i + 2] as number) << 16) | ((buf[i + 3] as number) << 24));
    c =
      (T[1792 + (a & 0xff)] as number) ^
      (T[1536 + ((a >>> 8) & 0xff)] as number) ^
      (T[1280 + ((a >>> 16) & 0xff)] as number) ^
      (T[1024 + (a >>> 24)] as number) ^
      (T[768 + (buf[i + 4] as number)] as number) ^
      (T[512 + (buf[i + 5] as number)] as number) ^
      (T[256 + (buf[i + 6] as number)] as number) ^
      (T[buf[i + 7] as number] as number);
  }
  for (; i < buf.length; i++) c = (T[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/** a × b modulo the CRC polynomial (zlib's multmodp). */
function multmodp(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X2N[k] = x^(2^k) modulo the polynomial. */
const X2N: number[] = [0x40000000];
for (let k = 1; k < 32; k++) X2N.push(multmodp(X2N[k - 1] as number, X2N[k - 1] as number));

/** CRC-32 of A followed by B, from crc(A), crc(B) and B's length (zlib's crc32_combine). */
export function crc32Combine(crcA: number, crcB: number, lenB: number): number {
  let p = 0x80000000;
  let k = 3;
  for (let n = lenB; n > 0; n = Math.floor(n / 2), k++) if (n % 2 === 1) p = multmodp(X2N[k & 31] as number, p);
  return (multmodp(p, crcA) ^ crcB) >>> 0;
}

/** Uncompressed length of a body. */
export function plainLength(parts: readonly BodyPart[]): number {
  let n = 0;
  for (const p of parts) n += isDeflated(p) ? p.len : p.length;
  return n;
}

/** A part's text. */
export const inflated = (p: BodyPart): Buffer => (isDeflated(p) ? inflate(p) : p);

/** The body as one gzip member; runs of plain Buffers are compressed here. */
export function gzipParts(parts: readonly BodyPart[]): Buffer[] {
  const out: Buffer[] = [GZIP_HEADER];
  let crc = 0;
  let len = 0;
  const add = (d: Deflated): void => {
    if (d.len === 0) return;
    out.push(d.z);
    crc = crc32Combine(crc, d.crc, d.len);
    len += d.len;
  };
  let plain: Buffer[] = [];
  const flushPlain = (): void => {
    if (plain.length === 0) return;
    add(deflate(plain.length === 1 ? (plain[0] as Buffer) : Buffer.concat(plain)));
    plain = [];
  };
  for (const p of parts) {
    if (isDeflated(p)) {
      flushPlain();
      add(p);
    } else if (p.length > 0) plain.push(p);
  }
  flushPlain();
  out.push(FINAL_BLOCK);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc, 0);
  // ISIZE is the length modulo 2^32.
  trailer.writeUInt32LE(len % 2 ** 32, 4);
  out.push(trailer);
  return out;
}

/** Whether an Accept-Encoding header allows gzip: a `gzip` entry decides, else `*`; `q=0` refuses. */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let star: boolean | undefined;
  for (const item of header.split(',')) {
    const [name, ...params] = item.split(';').map((x) => x.trim().toLowerCase());
    const q = params.find((x) => x.startsWith('q='));
    const ok = q === undefined || Number(q.slice(2)) > 0;
    if (name === 'gzip' || name === 'x-gzip') return ok;
    if (name === '*') star = ok;
  }
  return star ?? false;
}
