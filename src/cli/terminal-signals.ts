/**
 * Which signals the wrapper must not forward because the command already got them.
 *
 * A terminal sends the signals it generates (Ctrl-C → SIGINT, Ctrl-\ → SIGQUIT, hangup →
 * SIGHUP) to its whole foreground process group, and the command runs in the wrapper's
 * group: forwarded once more, one Ctrl-C reached it twice. Tools take a second interrupt as
 * "abort now" (terraform, docker compose): on a real pty a command that shuts down cleanly
 * on the first exited 1 on the second, where it exits 0 without the wrapper. sudo solves this
 * with the sender's pid (siginfo), which Node does not expose; the foreground test below is
 * the part of it Node can do: the price is that a SIGINT, SIGQUIT or SIGHUP sent with `kill`
 * to the wrapper alone, while it is in a terminal's foreground, is not passed on.
 */
export const TERMINAL_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGQUIT', 'SIGHUP']);

/**
 * From the text of /proc/<pid>/stat: whether the process is in the foreground process group
 * of its controlling terminal (tty_nr set, tpgid = pgrp). The command name may hold spaces
 * and parentheses: fields are counted after the last ')'.
 */
export function inTerminalForeground(stat: string): boolean {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // state ppid pgrp session tty_nr tpgid ...
  const pgrp = Number(f[2]);
  const ttyNr = Number(f[4]);
  const tpgid = Number(f[5]);
  return ttyNr !== 0 && tpgid > 0 && tpgid === pgrp;
}
