/** Asserts that parseConfig refuses `raw` with a ConfigError naming `path` and saying `message`. */
import { expect } from 'vitest';
import { parseConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/domain/errors.js';

export function expectConfigIssue(raw: unknown, path: string, message: string): void {
  try {
    parseConfig(raw);
    expect.unreachable('parseConfig accepted bad config');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.find((i) => i.path === path)?.message).toContain(message);
  }
}
