/**
 * The command's processes, from /proc (Linux), for what a terminal or a pipe would do to
 * them without the wrapper between: `--timeout` signals the whole tree the command started
 * (GNU timeout signals its process group; the wrapper cannot, as it shares its group with
 * the command and with the rest of a shell pipeline), and a broken stdout is felt by every
 * process holding the command's end of it. Without /proc (not Linux) each helper finds
 * nothing and the callers fall back to the direct child.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A process as seen once: its pid and start time, so a pid reused later is not signalled. */
export interface Proc {
  pid: number;
  start: string;
}

/** State, ppid, process group and start time (field 22) from /proc/<pid>/stat; the command name may hold spaces and parentheses. */
function stat(pid: number): { ppid: number; pgrp: number; start: string; state: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: f[0] as string, ppid: Number(f[1]), pgrp: Number(f[2]), start: f[19] as string };
  } catch {
    return undefined;
  }
}

const pids = (): number[] => {
  try {
    return readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {
    return [];
  }
};

/**
 * `root` and every live descendant of it in root's process group, parents before children:
 * what GNU timeout's signal to its group reaches. One the command moved to a group or session
 * of its own (`setsid daemon`, a shell's job control) is left alone, as timeout leaves it.
 */
export function processTree(root: number): Proc[] {
  const children = new Map<number, (Proc & { pgrp: number })[]>();
  let top: (Proc & { pgrp: number }) | undefined;
  for (const pid of pids()) {
    const s = stat(pid);
    if (s === undefined || s.state === 'Z') continue;
    const p = { pid, start: s.start, pgrp: s.pgrp };
    if (pid === root) top = p;
    const list = children.get(s.ppid) ?? [];
    list.push(p);
    children.set(s.ppid, list);
  }
  if (top === undefined) return [];
  const tree = [top];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get((tree[i] as Proc).pid) ?? []));
  const group = top.pgrp;
  return tree.filter((p) => p.pgrp === group).map(({ pid, start }) => ({ pid, start }));
}

/** Every live process that can be seen. */
export function everyProcess(): Proc[] {
  return pids().flatMap((pid) => {
    const s = stat(pid);
    return s === undefined || s.state === 'Z' ? [] : [{ pid, start: s.start }];
  });
}

/** Whether it is still the same, unreaped-or-running process (not a later one with its pid). */
export const same = (p: Proc): boolean => {
  const s = stat(p.pid);
  return s !== undefined && s.start === p.start && s.state !== 'Z';
};

/** What a process's file descriptor points at (`socket:[123]`, `pipe:[45]`), if it can be read. */
export function fdTarget(pid: number, fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** Those of `procs` that hold `target` open on some file descriptor. */
export function holding(procs: Proc[], target: string): Proc[] {
  return procs.filter((p) => {
    try {
      return readdirSync(`/proc/${p.pid}/fd`).some((fd) => fdTarget(p.pid, Number(fd)) === target);
    } catch {
      return false;
    }
  });
}

/** Sends `signal` to each process that is still the one seen; returns those it reached. */
export function signalAll(procs: Proc[], signal: NodeJS.Signals): Proc[] {
  return procs.filter((p) => {
    if (!same(p)) return false;
    try {
      process.kill(p.pid, signal);
      return true;
    } catch {
      return false;
    }
  });
}
