/**
 * The read path: GET /v1/devices/{id} at concurrency 32 (keep-alive), ours (the API, admin key)
 * against its floor (a bare Hono route doing the same single-row query with `pg`), in alternating
 * rounds. The load is `wrk` when it is installed (bench/lib/wrk.ts installs it from Debian when it
 * can), else the Node load generator; either way its own CPU is measured beside each figure, and
 * the ratio is the median of the per-round ratios (each round's two sides ran back to back).
 */
import { createHttpClient } from '../../scripts/simulator/http';
import type { Summary } from '../../scripts/simulator/stats';
import { closedLoop } from '../lib/load';
import { loadAverage } from '../lib/machine';
import { cpuSinceNow, procSample } from '../lib/proc';
import type { Stack } from '../lib/stack';
import { ensureWrk, runWrk } from '../lib/wrk';

export interface ReadSide {
  name: string;
  url: string;
  /** The server process, for its CPU. */
  pid: number;
  headers: Record<string, string>;
}

export interface ReadRun {
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
  latencyMs: Summary;
  /** CPU seconds of the load generator (wrk, or this process for the Node one) over the run. */
  loadGenCpuSeconds: number;
  /** CPU seconds of the server under test over the run. */
  serverCpuSeconds: number;
  /** Server CPU per request, µs. */
  serverCpuUsPerRequest: number;
  /**
   * CPU of every Postgres process on the machine per request, µs: the query's other half (on a
   * machine where nothing else uses Postgres meanwhile).
   */
  postgresCpuUsPerRequest: number;
  loadAverage: number[];
}

export interface ReadRoundsResult {
  tool: 'wrk' | 'node';
  concurrency: number;
  secondsPerRound: number;
  rounds: Array<Record<string, ReadRun>>;
  /** Per side, the round with the median rate. */
  medians: Record<string, ReadRun>;
  /** Median over the rounds of each side's rate ÷ the floor's (and its p99 ÷ the floor's p99). */
  ratios: Record<string, { rate: number; p99: number }>;
}

const WARMUP_MS = 1_500;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function nodeLoad(side: ReadSide, paths: string[], concurrency: number, durationMs: number) {
  const http = createHttpClient(side.url, { maxSockets: concurrency });
  try {
    const send = async (p: string) => {
      const r = await http.request('GET', p, { headers: side.headers, timeoutMs: 10_000 });
      return r.status === 200 ? { ok: true, ms: r.ms } : { ok: false, ms: r.ms, error: `HTTP ${r.status}: ${r.text.slice(0, 200)}` };
    };
    const cpu0 = process.cpuUsage();
    const r = await closedLoop({ concurrency, durationMs, maxRequests: 5_000_000, send: (i) => send(paths[(i * 7919) % paths.length]!) });
    const cpu = process.cpuUsage(cpu0);
    return { ...r, loadGenCpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    http.close();
  }
}

/** Rounds of every side back to back (after a warm-up each), with wrk when present. */
export async function readRounds(o: {
  ids: readonly string[];
  sides: ReadSide[];
  concurrency: number;
  durationMs: number;
  rounds: number;
  /** Use the Node load generator even when wrk is there. */
  nodeLoad?: boolean;
  log?: (line: string) => void;
}): Promise<ReadRoundsResult> {
  const log = o.log ?? (() => {});
  const wrk = o.nodeLoad ? null : ensureWrk(log);
  const paths = o.ids.map((id) => `/v1/devices/${encodeURIComponent(id)}`);
  const load = (side: ReadSide, durationMs: number) =>
    wrk
      ? runWrk({ wrk, baseUrl: side.url, paths, headers: side.headers, connections: o.concurrency, durationMs })
      : nodeLoad(side, paths, o.concurrency, durationMs);
  const rounds: ReadRoundsResult['rounds'] = [];
  for (let i = 0; i < o.rounds; i++) {
    const round: Record<string, ReadRun> = {};
    // The floor first, then the others in an order that rotates from round to round.
    const others = o.sides.slice(1);
    const order = [o.sides[0]!, ...others.slice(i % Math.max(1, others.length)), ...others.slice(0, i % Math.max(1, others.length))];
    for (const side of order) {
      await load(side, WARMUP_MS); // connections open, JIT warm, pools full
      const la = loadAverage();
      const cpu0 = procSample(side.pid)?.cpuSeconds ?? NaN;
      const postgresCpu = cpuSinceNow('postgres');
      const r = await load(side, o.durationMs);
      const serverCpuSeconds = (procSample(side.pid)?.cpuSeconds ?? NaN) - cpu0;
      const postgresCpuSeconds = postgresCpu();
      if (r.errors > 0)
        throw new Error(`read path (${side.name}): ${r.errors} requests failed${'firstError' in r ? `, first: ${r.firstError}` : ''}`);
      round[side.name] = {
        requests: r.requests,
        errors: r.errors,
        seconds: r.seconds,
        perSecond: r.perSecond,
        latencyMs: r.latencyMs,
        loadGenCpuSeconds: r.loadGenCpuSeconds,
        serverCpuSeconds,
        serverCpuUsPerRequest: (serverCpuSeconds / Math.max(1, r.requests)) * 1e6,
        postgresCpuUsPerRequest: (postgresCpuSeconds / Math.max(1, r.requests)) * 1e6,
        loadAverage: la,
      };
      log(
        `round ${i + 1} ${side.name}: ${r.perSecond.toFixed(0)} req/s, p99 ${r.latencyMs.p99.toFixed(1)} ms, server ${round[side.name]!.serverCpuUsPerRequest.toFixed(0)} µs CPU/req, Postgres ${round[side.name]!.postgresCpuUsPerRequest.toFixed(0)} µs, ${wrk ? 'wrk' : 'node load'} ${r.loadGenCpuSeconds.toFixed(1)} s CPU, load ${la.join(' ')}`,
      );
    }
    rounds.push(round);
  }
  const medians: Record<string, ReadRun> = {};
  const ratios: ReadRoundsResult['ratios'] = {};
  for (const side of o.sides) {
    const runs = rounds.map((r) => r[side.name]!);
    const m = median(runs.map((r) => r.perSecond));
    medians[side.name] = runs.find((r) => r.perSecond === m)!;
    if (side !== o.sides[0]) {
      ratios[side.name] = {
        rate: median(rounds.map((r) => r[side.name]!.perSecond / r[o.sides[0]!.name]!.perSecond)),
        p99: median(rounds.map((r) => r[side.name]!.latencyMs.p99 / r[o.sides[0]!.name]!.latencyMs.p99)),
      };
    }
  }
  return { tool: wrk ? 'wrk' : 'node', concurrency: o.concurrency, secondsPerRound: o.durationMs / 1000, rounds, medians, ratios };
}

export interface ReadPathResult extends ReadRoundsResult {
  devices: number;
  floor: ReadRun;
  ours: ReadRun;
}

export async function readPath(
  stack: Stack,
  o: { concurrency: number; durationMs: number; rounds: number; log?: (line: string) => void },
): Promise<ReadPathResult> {
  const ids = (
    (await stack.db('devices').where({ tenant_id: stack.tenantId }).select('device_id').orderByRaw('random()').limit(2_000)) as Array<{
      device_id: string;
    }>
  ).map((r) => r.device_id);
  if (ids.length === 0) throw new Error('no devices to read: the event path scenarios must run first');
  const r = await readRounds({
    ids,
    sides: [
      { name: 'floor', url: stack.readFloorUrl, pid: stack.readFloor.pid, headers: {} },
      { name: 'ours', url: stack.apiUrl, pid: stack.api.pid, headers: { Authorization: `Bearer ${stack.keys.admin}` } },
    ],
    concurrency: o.concurrency,
    durationMs: o.durationMs,
    rounds: o.rounds,
    ...(o.log ? { log: o.log } : {}),
  });
  return { ...r, devices: ids.length, floor: r.medians.floor!, ours: r.medians.ours! };
}
