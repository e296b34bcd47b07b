/**
 * Decodes a Go interpreted string literal (as written in Go source, quotes included) to
 * the bytes it denotes: \xNN, \NNN (octal), \uNNNN, \UNNNNNNNN, \a \b \f \n \r \t \v \\ \"
 * and raw UTF-8 text. Used to turn test vectors copied verbatim from Go test files into
 * the exact bytes the Go code under test read.
 */
const SIMPLE: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39 };

export function decodeGoStringLiteral(literal: string): Uint8Array {
  if (!literal.startsWith('"') || !literal.endsWith('"') || literal.length < 2) throw new Error('not a Go interpreted string literal');
  const body = literal.slice(1, -1);
  const out: number[] = [];
  for (let i = 0; i < body.length; ) {
    const ch = body[i] as string;
    if (ch !== '\\') {
      const cp = body.codePointAt(i) as number;
      out.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = body[i + 1] as string;
    if (e in SIMPLE) {
      out.push(SIMPLE[e] as number);
      i += 2;
    } else if (e === 'x') {
      out.push(parseInt(body.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      out.push(...Buffer.from(String.fromCodePoint(parseInt(body.slice(i + 2, i + 2 + n), 16)), 'utf8'));
      i += 2 + n;
    } else if (/[0-7]/.test(e)) {
      out.push(parseInt(body.slice(i + 1, i + 4), 8));
      i += 4;
    } else throw new Error(`unknown escape \\${e} at ${i}`);
  }
  return Uint8Array.from(out);
}
