/** The Go-written delimited protobuf test vectors in test/fixtures/pushgateway-protobuf/, as bytes by case name. */
import { readFileSync } from 'node:fs';
import { decodeGoStringLiteral } from './go-string-literal.js';

export function goProtobufFixtures(): Map<string, Uint8Array> {
  const text = readFileSync(new URL('../fixtures/pushgateway-protobuf/go-literals.txt', import.meta.url), 'utf8');
  const out = new Map<string, Uint8Array>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const tab = line.indexOf('\t');
    out.set(line.slice(0, tab), decodeGoStringLiteral(line.slice(tab + 1)));
  }
  return out;
}
