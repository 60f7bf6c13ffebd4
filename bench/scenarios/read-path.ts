/**
 * The read path: GET /v1/devices/{id} at concurrency 32 (keep-alive), ours (the API, admin key)
 * against its floor (a bare Hono route doing the same single-row query with `pg`), interleaved.
 */
import { createHttpClient } from '../../scripts/simulator/http';
import { closedLoop, type ClosedLoopResult } from '../lib/load';
import type { Stack } from '../lib/stack';

export interface ReadPathResult {
  concurrency: number;
  secondsPerRound: number;
  devices: number;
  rounds: Array<{ floor: ClosedLoopResult; ours: ClosedLoopResult }>;
  /** The round with the median rate of each side. */
  floor: ClosedLoopResult;
  ours: ClosedLoopResult;
}

async function run(
  baseUrl: string,
  ids: string[],
  o: { concurrency: number; durationMs: number; maxRequests: number; headers: Record<string, string> },
): Promise<ClosedLoopResult> {
  const http = createHttpClient(baseUrl, { maxSockets: o.concurrency });
  try {
    // Warm-up: connections open, JIT warm, the pools full.
    await closedLoop({
      concurrency: o.concurrency,
      durationMs: 1_500,
      maxRequests: 20_000,
      send: (i) => get(http, ids[i % ids.length]!, o.headers),
    });
    return await closedLoop({
      concurrency: o.concurrency,
      durationMs: o.durationMs,
      maxRequests: o.maxRequests,
      send: (i) => get(http, ids[(i * 7919) % ids.length]!, o.headers),
    });
  } finally {
    http.close();
  }
}

async function get(http: ReturnType<typeof createHttpClient>, id: string, headers: Record<string, string>) {
  const r = await http.request('GET', `/v1/devices/${encodeURIComponent(id)}`, { headers, timeoutMs: 10_000 });
  return r.status === 200 ? { ok: true, ms: r.ms } : { ok: false, ms: r.ms, error: `HTTP ${r.status}: ${r.text.slice(0, 200)}` };
}

const median = (rs: ClosedLoopResult[]): ClosedLoopResult =>
  [...rs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor((rs.length - 1) / 2)]!;

export async function readPath(
  stack: Stack,
  o: { concurrency: number; durationMs: number; rounds: number; maxRequests: number },
): Promise<ReadPathResult> {
  const ids = (
    (await stack.db('devices').where({ tenant_id: stack.tenantId }).select('device_id').orderByRaw('random()').limit(2_000)) as Array<{
      device_id: string;
    }>
  ).map((r) => r.device_id);
  if (ids.length === 0) throw new Error('no devices to read: the event path scenarios must run first');
  const rounds: ReadPathResult['rounds'] = [];
  for (let i = 0; i < o.rounds; i++) {
    const floor = await run(stack.readFloorUrl, ids, { ...o, headers: {} });
    const ours = await run(stack.apiUrl, ids, { ...o, headers: { Authorization: `Bearer ${stack.keys.admin}` } });
    for (const [name, r] of [
      ['floor', floor],
      ['ours', ours],
    ] as const) {
      if (r.errors > 0) throw new Error(`read path (${name}): ${r.errors} requests failed, first: ${r.firstError}`);
    }
    rounds.push({ floor, ours });
  }
  return {
    concurrency: o.concurrency,
    secondsPerRound: o.durationMs / 1000,
    devices: ids.length,
    rounds,
    floor: median(rounds.map((r) => r.floor)),
    ours: median(rounds.map((r) => r.ours)),
  };
}
