/**
 * Text from bytes that must be UTF-8, and strings that must be well-formed.
 *
 * Why strict: Buffer's decoder turns invalid bytes into U+FFFD and keeps going, so a job
 * name sent as `bad\xff` was silently stored as another name. And a JSON escape can make a
 * lone surrogate (`"\ud800"`), which SQLite, Redis and /metrics each write as U+FFFD: the
 * name in memory and the name after a restart were two different jobs.
 */
import { isUtf8 } from 'node:buffer';

const BOM = [0xef, 0xbb, 0xbf];

/** The bytes as text exactly, or undefined when they are not valid UTF-8 (a name, a label value, a key). */
export function utf8Text(bytes: Uint8Array): string | undefined {
  return isUtf8(bytes) ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8') : undefined;
}

/**
 * A JSON document's bytes as text, a leading byte order mark dropped (RFC 8259 lets a parser
 * ignore it, and Windows tools write one), or undefined when they are not valid UTF-8.
 */
export function strictUtf8(bytes: Uint8Array): string | undefined {
  const bom = bytes.length >= 3 && bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2];
  return utf8Text(bom ? bytes.subarray(3) : bytes);
}

/** Whether `s` holds no lone surrogate (Node 20 has the ES2024 method; our lib target is ES2023). */
export const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** `s` with every lone surrogate replaced by U+FFFD, as storing it would. */
export const toWellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed();
