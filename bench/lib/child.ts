/**
 * Child processes of the benchmark: TypeScript entry files run with `node --import tsx` (one process
 * each, so /proc tells its RSS and CPU), their output kept in a ring for error messages, stopped with
 * SIGTERM then SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  exited: boolean;
  /** Last lines of stdout and stderr. */
  tail(): string;
  /** Resolves with the first stdout line `match` accepts (or rejects when the child exits / times out). */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number): Promise<T>;
  stop(timeoutMs?: number): Promise<void>;
}

export interface ChildSpec {
  name: string;
  /** A .ts file under the project root, run with tsx; or a binary with `command`. */
  script?: string;
  command?: string;
  args?: string[];
  /** Extra Node flags (e.g. --cpu-prof). */
  nodeFlags?: string[];
  env: NodeJS.ProcessEnv;
  /** Send stdout to this file instead of a pipe (a chatty log that this process should not parse). */
  stdoutFile?: string;
  /** Called with every output line (after it is kept in the tail). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export function startChild(spec: ChildSpec): Child {
  const command = spec.command ?? process.execPath;
  const args = spec.script
    ? [...(spec.nodeFlags ?? []), '--import', 'tsx', path.resolve(PROJECT_ROOT, spec.script), ...(spec.args ?? [])]
    : (spec.args ?? []);
  const out = spec.stdoutFile ? openSync(spec.stdoutFile, 'a') : 'pipe';
  const proc = spawn(command, args, { cwd: PROJECT_ROOT, env: spec.env, stdio: ['ignore', out, 'pipe'] });
  if (typeof out === 'number') closeSync(out);
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      exited = true;
      child.exited = true;
      resolve();
    }),
  );
  const feed = (stream: 'stdout' | 'stderr') => {
    let partial = '';
    return (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line === '') continue;
        lines.push(`${stream === 'stderr' ? '! ' : ''}${line.length > 500 ? `${line.slice(0, 500)}…` : line}`);
        if (lines.length > 60) lines.shift();
        if (stream === 'stdout') for (const l of listeners) l(line);
        spec.onLine?.(line, stream);
      }
    };
  };
  proc.stdout?.on('data', feed('stdout'));
  proc.stderr?.on('data', feed('stderr'));

  const child: Child = {
    name: spec.name,
    pid: proc.pid ?? -1,
    process: proc,
    exited: false,
    tail: () => lines.join('\n'),
    waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => done(new Error(`${spec.name} printed nothing expected within ${timeoutMs} ms:\n${child.tail()}`)),
          timeoutMs,
        );
        const onExit = () => done(new Error(`${spec.name} exited (code ${proc.exitCode}, signal ${proc.signalCode}):\n${child.tail()}`));
        const listener = (line: string) => {
          const v = match(line);
          if (v !== undefined) done(undefined, v);
        };
        function done(err?: Error, v?: T) {
          clearTimeout(timer);
          listeners.delete(listener);
          proc.off('exit', onExit);
          if (err) reject(err);
          else resolve(v as T);
        }
        listeners.add(listener);
        proc.once('exit', onExit);
        if (exited) onExit();
      });
    },
    async stop(timeoutMs = 15_000) {
      if (exited) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      await exit;
      clearTimeout(timer);
    },
  };
  return child;
}

/** `{ "port": N }`, the line a bench server prints once it listens, for `waitForLine`. */
export function portLine(line: string): { port: number } | undefined {
  try {
    const v = JSON.parse(line) as { port?: number };
    return typeof v.port === 'number' ? { port: v.port } : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `probe` until it returns a value, or throws after `timeoutMs` with the last reason. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms${last ? ` (${last})` : ''}`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
