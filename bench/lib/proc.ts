/** What Linux tells about a process (/proc): resident memory and CPU time. Linux only. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

export interface ProcSample {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size, bytes (VmHWM). */
  peakRss: number;
  /** Of `rss`: anonymous memory (heaps, the SDK's native caches), bytes (RssAnon). */
  rssAnon: number;
  /** Of `rss`: pages of mapped files (the node binary, native addons), bytes (RssFile). */
  rssFile: number;
  /** User + system CPU seconds since the process started. */
  cpuSeconds: number;
}

/** User + system CPU seconds in a /proc `stat` file (a process's or one of its threads'). */
function cpuSecondsOfStat(file: string): number {
  const stat = readFileSync(file, 'utf8');
  // Fields after the command (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
}

export function procSample(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return {
      rss: kb('VmRSS'),
      peakRss: kb('VmHWM'),
      rssAnon: kb('RssAnon'),
      rssFile: kb('RssFile'),
      cpuSeconds: cpuSecondsOfStat(`/proc/${pid}/stat`),
    };
  } catch {
    return null;
  }
}

/** Processes whose command name is `name` (e.g. every Postgres backend), by /proc/<pid>/comm. */
export function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * Starts counting the CPU of every process named `name`; the returned function gives the seconds
 * spent since. A process that started meanwhile counts whole, one that ended meanwhile counts
 * nothing (its last CPU reading is gone with it), so the figure never goes negative.
 */
export function cpuSinceNow(name: string): () => number {
  const start = new Map(pidsNamed(name).map((pid) => [pid, procSample(pid)?.cpuSeconds ?? 0]));
  return () =>
    pidsNamed(name).reduce((sum, pid) => {
      const now = procSample(pid)?.cpuSeconds;
      return now === undefined ? sum : sum + Math.max(0, now - (start.get(pid) ?? 0));
    }, 0);
}

/** What each thread of a Temporal worker process is for, by its name and place (see `workerThreadsSinceNow`). */
export type WorkerThreadRole = 'main' | 'workflowThread' | 'v8Helpers' | 'sdkCore';

function threadsOf(pid: number): Map<number, { name: string; cpuSeconds: number }> {
  const out = new Map<number, { name: string; cpuSeconds: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const cpuSeconds = cpuSecondsOfStat(`/proc/${pid}/task/${tid}/stat`);
      out.set(Number(tid), { name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), cpuSeconds });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/**
 * Starts counting a worker process's CPU by thread; the returned function gives the seconds since,
 * by role. The roles come from the threads' names: the process's own thread is Node's main thread
 * (activities, the SDK's bridge); the SDK's Rust core runs in threads named `tokio-runtime-w` and
 * `workflow-proces(sing)`; of the other threads, all named `node`, the busiest is the SDK's
 * workflow thread (the sandbox) and the rest are V8's and libuv's helpers, mostly the garbage
 * collector's. That last split is by rank, so it holds for the SDK's default of one workflow thread.
 */
export function workerThreadsSinceNow(pid: number): () => Record<WorkerThreadRole, number> {
  const start = threadsOf(pid);
  return () => {
    const roles: Record<WorkerThreadRole, number> = { main: 0, workflowThread: 0, v8Helpers: 0, sdkCore: 0 };
    const others: number[] = [];
    for (const [tid, t] of threadsOf(pid)) {
      const spent = Math.max(0, t.cpuSeconds - (start.get(tid)?.cpuSeconds ?? 0));
      if (tid === pid) roles.main += spent;
      else if (t.name.startsWith('tokio-runtime') || t.name.startsWith('workflow-proces')) roles.sdkCore += spent;
      else others.push(spent);
    }
    others.sort((a, b) => b - a);
    roles.workflowThread = others[0] ?? 0;
    roles.v8Helpers = others.slice(1).reduce((a, b) => a + b, 0);
    return roles;
  };
}

/** CPU seconds of several processes, keyed by name. */
export function cpuOf(pids: Record<string, number[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, list] of Object.entries(pids)) out[name] = list.reduce((a, pid) => a + (procSample(pid)?.cpuSeconds ?? 0), 0);
  return out;
}

export function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after)) out[k] = Math.round(((after[k] ?? 0) - (before[k] ?? 0)) * 1000) / 1000;
  return out;
}

/** Size of a file plus its SQLite -wal and -shm companions, bytes (0 for what does not exist). */
export function sqliteSize(file: string): { db: number; wal: number; shm: number; total: number } {
  const size = (f: string) => {
    try {
      return statSync(f).size;
    } catch {
      return 0;
    }
  };
  const db = size(file);
  const wal = size(`${file}-wal`);
  const shm = size(`${file}-shm`);
  return { db, wal, shm, total: db + wal + shm };
}

/** The load average and the CPU time of the whole machine, to show how busy it was. */
export function machineCpu(): { idle: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { idle, total: v.reduce((a, b) => a + b, 0) };
}
