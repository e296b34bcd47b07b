import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { acceptsGzip, crc32, crc32Combine, deflate, gzipParts, inflate, inflated, plainLength, type BodyPart } from '../../src/metrics/deflate-parts.js';

/** zlib's own CRC-32, read from a gzip member's trailer. */
const zlibCrc = (b: Buffer): number => {
  const g = gzipSync(b);
  return g.readUInt32LE(g.length - 8);
};

const text = (n: number, seed: number): Buffer => {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `job_status{job_name="job-${seed}-${i}",state="running"} ${i % 2}\n`;
  return Buffer.from(s.slice(0, n));
};

describe('deflate parts', () => {
  it('computes the same CRC-32 as zlib, at every length around the 8-byte stride', () => {
    for (const n of [0, 1, 7, 8, 9, 15, 16, 17, 1000, 65_537]) {
      const b = randomBytes(n);
      expect(crc32(b)).toBe(zlibCrc(b));
    }
  });

  it('combines CRCs as if the bytes were one', () => {
    for (const [a, b] of [
      [0, 5],
      [5, 0],
      [3, 1],
      [1000, 77_777],
      [70_000, 1],
    ] as const) {
      const x = randomBytes(a);
      const y = randomBytes(b);
      expect(crc32Combine(crc32(x), crc32(y), b)).toBe(zlibCrc(Buffer.concat([x, y])));
    }
  });

  it('joins independently compressed parts and plain Buffers into one gzip member', () => {
    const pieces = [text(10, 1), text(100_000, 2), Buffer.alloc(0), text(200_000, 3), randomBytes(70_000), text(1, 4), text(3000, 5)];
    // Alternate compressed and plain, with runs of each, and an empty compressed part.
    const parts: BodyPart[] = pieces.map((p, i) => (i % 3 === 1 ? p : deflate(p)));
    parts.splice(2, 0, deflate(Buffer.alloc(0)));
    const whole = Buffer.concat(pieces);
    expect(plainLength(parts)).toBe(whole.length);
    expect(Buffer.concat(parts.map(inflated)).equals(whole)).toBe(true);
    const gz = Buffer.concat(gzipParts(parts));
    expect(gunzipSync(gz).equals(whole)).toBe(true);
    // The trailer is checked by gunzip; a flipped CRC must be refused, so it is really checked.
    gz.writeUInt32LE((gz.readUInt32LE(gz.length - 8) ^ 1) >>> 0, gz.length - 8);
    expect(() => gunzipSync(gz)).toThrow();
  });

  it('compresses the repetitive exposition text well and inflates a part back', () => {
    const t = text(500_000, 9);
    const d = deflate(t);
    expect(d.len).toBe(t.length);
    expect(d.z.length).toBeLessThan(t.length / 8);
    expect(inflate(d).equals(t)).toBe(true);
  });

  it('keeps a small compressed part in memory of its own size, not in zlib\'s 16 KiB output chunk', () => {
    const d = deflate(Buffer.from('job_runs_total{job="etl",outcome="succeeded"} 42\n'.repeat(20)));
    expect(d.z.length).toBeLessThan(1024);
    expect(d.z.buffer.byteLength).toBe(d.z.length);
    expect(inflate(d).toString()).toContain('outcome="succeeded"} 42');
  });

  it('an empty body is a valid gzip member', () => {
    expect(gunzipSync(Buffer.concat(gzipParts([]))).length).toBe(0);
  });

  it.each([
    [undefined, false],
    ['', false],
    ['gzip', true],
    ['deflate, gzip;q=1.0, *;q=0.5', true],
    ['GZIP', true],
    ['br, deflate', false],
    ['gzip;q=0', false],
    ['gzip;q=0, *', false],
    ['*', true],
    ['*;q=0', false],
    ['identity', false],
  ])('Accept-Encoding %j allows gzip: %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });
});
