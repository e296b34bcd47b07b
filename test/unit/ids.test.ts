import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/runtime/ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const msOf = (id: string): number => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('uuidv7', () => {
  it('is an RFC 9562 version-7 UUID carrying the given unix milliseconds', () => {
    // Ahead of any id made so far, so the clock is taken as given (2^40 ms and beyond: all 48 bits used).
    const later = Date.now() + 10 ** 9;
    for (const now of [later, later + 1, 2 ** 47 + 12345]) {
      const id = uuidv7(now);
      expect(id).toMatch(UUID_V7);
      expect(msOf(id)).toBe(now);
    }
  });

  it('stays strictly ordered within a millisecond and when the clock steps back', () => {
    const start = 2 ** 47 + 10 ** 6;
    const ids = [uuidv7(start)];
    for (let i = 0; i < 10_000; i++) ids.push(uuidv7(start - (i % 3)));
    for (let i = 1; i < ids.length; i++) expect((ids[i] as string) > (ids[i - 1] as string), `${ids[i - 1]} < ${ids[i]}`).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(UUID_V7);
  });

  it('hands out independent strings (the text buffer is reused)', () => {
    const a = uuidv7();
    const copy = `${a}`;
    uuidv7();
    expect(a).toBe(copy);
  });
});
