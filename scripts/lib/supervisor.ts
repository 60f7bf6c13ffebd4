/**
 * Child processes of `npm start`: each in a process group of its own (so a stop reaches everything it
 * started, e.g. Postgres backends), output forwarded line by line with the child's name in front, an
 * orderly stop (SIGTERM — or the child's own stop signal — then SIGKILL after a timeout), restarts
 * with backoff for a child that has a restart policy, and a callback when a child without one dies
 * on its own or one with one crashes too often.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Stopped after every child of a higher tier (worker and API before the infrastructure). */
  tier: number;
  /** Default SIGTERM, sent to the whole process group unless signalLeaderOnly. */
  stopSignal?: NodeJS.Signals;
  /** Postgres: the postmaster stops its own children; signalling them too only cancels queries. */
  signalLeaderOnly?: boolean;
  /** Then SIGKILL to the group. Default 10 s. */
  stopTimeoutMs?: number;
  /** Sees every output line before it is printed; return false to hide it. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => boolean | void;
  /** Restarted when it dies on its own; without a policy its death is reported to onUnexpectedExit. */
  restart?: RestartPolicy;
}

/**
 * A crashed child is started again after initialDelayMs, doubling with each crash still inside the
 * window, up to maxDelayMs; the maxCrashes-th crash within windowMs gives up (onUnexpectedExit).
 */
export interface RestartPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  maxCrashes: number;
  windowMs: number;
}

/** `npm start`'s policy for the worker and the API: 0.5 s, 1 s, 2 s, 4 s; the 5th crash in a minute stops. */
export const RESTART_WITH_BACKOFF: RestartPolicy = { initialDelayMs: 500, maxDelayMs: 10_000, maxCrashes: 5, windowMs: 60_000 };

/** The delay before the restart that follows the `crashes`-th crash within the window (1-based). */
export function restartDelayMs(policy: RestartPolicy, crashes: number): number {
  return Math.min(policy.initialDelayMs * 2 ** Math.max(0, crashes - 1), policy.maxDelayMs);
}

export interface Supervised {
  spec: ChildSpec;
  process: ChildProcess;
  pid: number;
  exited: boolean;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  /** Resolves when the process has exited. */
  exit: Promise<void>;
}

/** `reason`: one line such as `postgres exited unexpectedly (exit code 1)`. */
export type UnexpectedExit = (child: Supervised, reason: string) => void;

export function describeExit(c: Pick<Supervised, 'exitCode' | 'exitSignal'>): string {
  return c.exitSignal ? `killed by ${c.exitSignal}` : `exit code ${c.exitCode ?? 'unknown'}`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** pino JSON lines become `12:00:01 INFO msg key=value …`; anything else is printed as is. */
export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof rec !== 'object' || rec === null || (!('msg' in rec) && !('level' in rec))) return line;
  const { time, level, msg, pid: _pid, hostname: _hostname, service: _service, ...rest } = rec;
  const t = typeof time === 'number' || typeof time === 'string' ? new Date(time) : undefined;
  const clock = t && !Number.isNaN(t.getTime()) ? t.toISOString().slice(11, 19) : '';
  const lvl = typeof level === 'number' ? (LEVELS[level] ?? String(level)) : typeof level === 'string' ? level.toUpperCase() : '';
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return [clock, lvl, typeof msg === 'string' ? msg : msg === undefined ? '' : JSON.stringify(msg), fields].filter(Boolean).join(' ');
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

export class Supervisor {
  private readonly children: Supervised[] = [];
  private stopping = false;
  private unexpected: UnexpectedExit = () => {};
  private readonly nameWidth: number;
  /** Crash times per child name, within the restart window. */
  private readonly crashes = new Map<string, number[]>();
  private readonly pendingRestarts = new Set<NodeJS.Timeout>();

  constructor(
    private readonly out: (line: string) => void,
    names: string[] = [],
  ) {
    this.nameWidth = Math.max(8, ...names.map((n) => n.length));
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  onUnexpectedExit(cb: UnexpectedExit): void {
    this.unexpected = cb;
  }

  print(name: string, line: string): void {
    this.out(`${name.padEnd(this.nameWidth)} | ${line}`);
  }

  start(spec: ChildSpec): Supervised {
    if (this.stopping) throw new Error(`not starting ${spec.name}: stopping`);
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
      ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
    });
    let resolveExit: () => void = () => {};
    const exit = new Promise<void>((resolve) => (resolveExit = resolve));
    const sup: Supervised = { spec, process: child, pid: child.pid ?? -1, exited: false, exitCode: null, exitSignal: null, exit };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (sup.exited) return;
      sup.exited = true;
      sup.exitCode = code;
      sup.exitSignal = signal;
      resolveExit();
      if (!this.stopping) this.exitedOnItsOwn(sup);
    };
    child.once('exit', onExit);
    child.once('error', (err) => {
      this.print(spec.name, `could not start ${spec.command}: ${err.message}`);
      onExit(null, null);
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      let pending = '';
      child[stream]?.setEncoding('utf8');
      child[stream]?.on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) this.emit(spec, line, stream);
      });
      child[stream]?.on('end', () => {
        if (pending) this.emit(spec, pending, stream);
        pending = '';
      });
    }
    this.children.push(sup);
    return sup;
  }

  /** Restart with backoff, or (no policy, or too many crashes) report it. */
  private exitedOnItsOwn(sup: Supervised): void {
    const { spec } = sup;
    const policy = spec.restart;
    if (!policy) {
      this.unexpected(sup, `${spec.name} exited unexpectedly (${describeExit(sup)})`);
      return;
    }
    const now = Date.now();
    const recent = [...(this.crashes.get(spec.name) ?? []), now].filter((t) => now - t < policy.windowMs);
    this.crashes.set(spec.name, recent);
    if (recent.length >= policy.maxCrashes) {
      this.unexpected(sup, `${spec.name} crashed ${recent.length} times within ${seconds(policy.windowMs)} (last: ${describeExit(sup)})`);
      return;
    }
    const delay = restartDelayMs(policy, recent.length);
    this.print(
      spec.name,
      `exited unexpectedly (${describeExit(sup)}): restarting it in ${seconds(delay)} ` +
        `(restart ${recent.length}; ${policy.maxCrashes} crashes within ${seconds(policy.windowMs)} stop everything)`,
    );
    const timer = setTimeout(() => {
      this.pendingRestarts.delete(timer);
      if (this.stopping) return;
      // The dead one is forgotten once nothing of its process group is left (a long run stays small).
      const index = this.children.indexOf(sup);
      if (index >= 0 && !groupAlive(sup.pid)) this.children.splice(index, 1);
      const again = this.start(spec);
      this.print(spec.name, `restarted (pid ${again.pid})`);
    }, delay);
    this.pendingRestarts.add(timer);
  }

  private cancelRestarts(): void {
    for (const timer of this.pendingRestarts) clearTimeout(timer);
    this.pendingRestarts.clear();
  }

  private emit(spec: ChildSpec, raw: string, stream: 'stdout' | 'stderr'): void {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) return;
    if (spec.onLine?.(line, stream) === false) return;
    this.print(spec.name, formatLogLine(line));
  }

  /** Stops one child: its stop signal, then SIGKILL to its group after the timeout. */
  async stopChild(c: Supervised): Promise<void> {
    const { spec } = c;
    if (!c.exited) {
      const signal = spec.stopSignal ?? 'SIGTERM';
      if (spec.signalLeaderOnly) {
        try {
          process.kill(c.pid, signal);
        } catch {
          // gone
        }
      } else signalGroup(c.pid, signal);
      const timeoutMs = spec.stopTimeoutMs ?? 10_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        c.exit.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.print(spec.name, `did not stop within ${Math.round(timeoutMs / 1000)} s of ${signal}: killing it`);
        signalGroup(c.pid, 'SIGKILL');
        await c.exit;
      }
    }
    // Anything the child left in its group (grandchildren) goes too.
    for (let i = 0; i < 20 && groupAlive(c.pid); i++) {
      if (i === 0) signalGroup(c.pid, 'SIGTERM');
      if (i === 10) signalGroup(c.pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
    }
    if (groupAlive(c.pid)) signalGroup(c.pid, 'SIGKILL');
  }

  /** Highest tier first, each tier's children in parallel. Idempotent. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    this.cancelRestarts();
    const tiers = [...new Set(this.children.map((c) => c.spec.tier))].sort((a, b) => b - a);
    for (const tier of tiers) {
      await Promise.all(this.children.filter((c) => c.spec.tier === tier).map((c) => this.stopChild(c)));
    }
  }

  /** Last resort (process 'exit'): SIGKILL every group still there. Synchronous. */
  killAllNow(): void {
    this.stopping = true;
    this.cancelRestarts();
    for (const c of this.children) if (!c.exited || groupAlive(c.pid)) signalGroup(c.pid, 'SIGKILL');
  }

  list(): readonly Supervised[] {
    return this.children;
  }
}
