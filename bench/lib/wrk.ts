/**
 * `wrk` (a C load generator, Debian package `wrk`) as the read path's load: one thread, N keep-alive
 * connections, a Lua script that walks a list of paths and prints its summary as JSON. Its own CPU
 * is measured too (the shell that runs it reports the CPU of the child it reaped), so a figure can
 * say how much of the machine the load itself took.
 *
 * `ensureWrk()` installs it from Debian when it is missing and this process may (root or sudo
 * without a password); otherwise the caller falls back to the Node load generator (bench/lib/load.ts).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Summary } from '../../scripts/simulator/stats';

export interface WrkResult {
  tool: 'wrk';
  requests: number;
  /** Non-2xx answers, socket errors and timeouts. */
  errors: number;
  seconds: number;
  perSecond: number;
  latencyMs: Summary;
  /** CPU seconds wrk itself used (user + system). */
  loadGenCpuSeconds: number;
}

const which = (bin: string): string | null => {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
};

/** The path of `wrk`, installing it from Debian when missing and possible; null when it is not there. */
export function ensureWrk(log: (line: string) => void = () => {}): string | null {
  const found = which('wrk');
  if (found) return found;
  const root = process.getuid?.() === 0;
  const sudo = !root && spawnSync('sudo', ['-n', 'true']).status === 0;
  if (!root && !sudo) {
    log('wrk is not installed and this user cannot install it (apt-get install wrk); using the Node load generator');
    return null;
  }
  log('wrk is not installed: apt-get install -y wrk');
  const apt = (args: string[]) =>
    spawnSync(root ? 'apt-get' : 'sudo', root ? args : ['-n', 'apt-get', ...args], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  if (!apt(['install', '-y', '--no-install-recommends', 'wrk'])) {
    apt(['update']);
    apt(['install', '-y', '--no-install-recommends', 'wrk']);
  }
  return which('wrk');
}

/** The Lua script: paths walked with a stride, a header, and the summary printed as one JSON line. */
function script(paths: readonly string[], headers: Record<string, string>): string {
  const list = paths.map((p) => JSON.stringify(p)).join(',\n');
  const hdrs = Object.entries(headers)
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
    .join('\n');
  return `
local paths = {
${list}
}
${hdrs}
local n = #paths
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i * 7919) % n + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"durationUs":%d,"errors":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
`;
}

/** One closed-loop run of `wrk` against `baseUrl` for `durationMs`. */
export async function runWrk(o: {
  wrk: string;
  baseUrl: string;
  paths: readonly string[];
  headers?: Record<string, string>;
  connections: number;
  durationMs: number;
}): Promise<WrkResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'acc-wrk-'));
  try {
    const lua = path.join(dir, 'paths.lua');
    writeFileSync(lua, script(o.paths, o.headers ?? {}));
    const seconds = Math.max(1, Math.round(o.durationMs / 1000));
    // The shell reaps wrk, then prints its own /proc stat, whose cutime/cstime are wrk's CPU.
    const args = ['-t1', `-c${o.connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', lua, o.baseUrl];
    const child = spawn('sh', ['-c', '"$0" "$@"; rc=$?; cat /proc/$$/stat >&2; exit $rc', o.wrk, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
    const line = /WRK_JSON (\{.*\})/.exec(out)?.[1];
    if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}): ${(out + err).slice(-800)}`);
    const s = JSON.parse(line) as {
      requests: number;
      durationUs: number;
      errors: number;
      p50: number;
      p95: number;
      p99: number;
      max: number;
      mean: number;
    };
    const stat = err.trim().split('\n').pop() ?? '';
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const loadGenCpuSeconds = (Number(fields[13]) + Number(fields[14])) / tck;
    const secs = s.durationUs / 1e6;
    const ok = s.requests - s.errors;
    const ms = (us: number) => Math.round(us / 10) / 100;
    return {
      tool: 'wrk',
      requests: ok,
      errors: s.errors,
      seconds: secs,
      perSecond: ok / secs,
      latencyMs: { count: s.requests, p50: ms(s.p50), p95: ms(s.p95), p99: ms(s.p99), max: ms(s.max), mean: ms(s.mean) },
      loadGenCpuSeconds,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
