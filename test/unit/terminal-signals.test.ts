import { describe, expect, it } from 'vitest';
import { inTerminalForeground } from '../../src/cli/terminal-signals.js';

// /proc/<pid>/stat: pid (comm) state ppid pgrp session tty_nr tpgid flags ...
const stat = (comm: string, pgrp: number, ttyNr: number, tpgid: number): string =>
  `4242 (${comm}) S 4100 ${pgrp} 4100 ${ttyNr} ${tpgid} 4194560 120 0 0 0 1 0 0 0 20 0 1 0 308335`;

describe('inTerminalForeground', () => {
  it.each([
    ['foreground job of a terminal', stat('node', 4242, 34816, 4242), true],
    ['background job of a terminal (`&`)', stat('node', 4242, 34816, 4100), false],
    ['no controlling terminal (cron, systemd, a container)', stat('node', 4242, 0, -1), false],
    ['a command name with spaces and parentheses', stat('my (odd) name', 4242, 34816, 4242), true],
  ] as const)('%s', (_, text, want) => {
    expect(inTerminalForeground(text)).toBe(want);
  });
});
