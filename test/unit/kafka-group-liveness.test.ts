import { describe, expect, it } from 'vitest';
import { memberLiveness } from '../../src/sources/kafka/group-liveness.js';

const T = 1_800_000_000_000;

describe('memberLiveness', () => {
  it.each([
    ['joined, heard from just now', true, T, T, true],
    ['joined, silent exactly session_timeout', true, T - 6000, T, true],
    ['joined, silent past session_timeout (hung broker, cut network)', true, T - 6001, T, false],
    ['not joined, recent answer (rebalancing, crashed)', false, T, T, false],
    ['never joined', false, 0, T, false],
  ] as const)('%s', (_, joined, lastContact, now, ok) => {
    expect(memberLiveness({ joined, lastContact, now, sessionTimeoutMs: 6000 }).ok).toBe(ok);
  });

  it('says how long the brokers have been silent', () => {
    expect(memberLiveness({ joined: true, lastContact: T - 42_000, now: T, sessionTimeoutMs: 30_000 })).toEqual({ ok: false, silentMs: 42_000 });
  });
});
