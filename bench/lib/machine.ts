/** The machine and the versions a benchmark ran on. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Db } from '../../db';
import { PROJECT_ROOT } from './child';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  loadAverageAtStart: number[];
}

export interface Versions {
  node: string;
  temporalCli: string;
  postgres: string;
  temporalSdk: string;
  hono: string;
  knex: string;
  pg: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function versions(temporalCli: string, db: Db): Promise<Versions> {
  const cli = spawnSync(temporalCli, ['--version'], { encoding: 'utf8', timeout: 20_000 }).stdout.trim();
  const { rows } = (await db.raw('show server_version')) as { rows: Array<{ server_version: string }> };
  return {
    node: process.version,
    temporalCli: cli.replace(/^temporal version /, ''),
    postgres: rows[0]?.server_version ?? 'unknown',
    temporalSdk: pkgVersion('@temporalio/worker'),
    hono: pkgVersion('hono'),
    knex: pkgVersion('knex'),
    pg: pkgVersion('pg'),
  };
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
export function loadAverage(): number[] {
  return os.loadavg().map((v) => Math.round(v * 100) / 100);
}
