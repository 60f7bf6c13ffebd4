/**
 * The event path: events, each to a distinct device, from POST to `Successful` in Postgres, and its
 * floor (a minimal workflow: signalWithStart + one activity + completion) on the same server.
 */
import type { Client } from '@temporalio/client';
import type { BatchEventItem } from '../../domain/events';
import { guidFrom, prng } from '../../scripts/simulator/fleet';
import { createHttpClient } from '../../scripts/simulator/http';
import { createSender } from '../../scripts/simulator/sender';
import { summarize, type Summary } from '../../scripts/simulator/stats';
import { FLOOR_TASK_QUEUE, type Stack } from '../lib/stack';
import { eachLimited, openLoop } from '../lib/load';
import { sleep } from '../lib/child';
import { FLOOR_WORKFLOW_TYPE } from '../floor/workflows';
import { tenantPriority } from '../../workflows/priorities';
import { DeviceIdKey, TenantIdKey } from '../../workflows/search-attributes';

export interface ThroughputResult {
  events: number;
  /** Events that ended Successful (floor: workflows completed). */
  completed: number;
  failed: number;
  /** From the first request to the last completion. */
  seconds: number;
  /** completed / seconds: the sustained rate over the whole run. */
  perSecond: number;
  /** Rate between 10 % and 90 % of completions (steady state, without ramp-up and tail). */
  steadyPerSecond: number;
  /** Seconds until every event was accepted (202 / signalWithStart returned). */
  submitSeconds: number;
  acceptMs: Summary;
  timedOut: boolean;
  /** Events the API answered 503 for (Temporal did not take them within its 5 s guard), sent again. */
  retried?: number;
}

/** Completion counts sampled over time → overall and 10–90 % rates. */
function rates(
  samples: Array<{ t: number; n: number }>,
  total: number,
  t0: number,
): { seconds: number; perSecond: number; steadyPerSecond: number } {
  const last = samples[samples.length - 1]!;
  const at = (fraction: number) => samples.find((s) => s.n >= fraction * total)?.t;
  const t10 = at(0.1);
  const t90 = at(0.9);
  const seconds = (last.t - t0) / 1000;
  const steady = t10 !== undefined && t90 !== undefined && t90 > t10 ? (0.8 * total) / ((t90 - t10) / 1000) : NaN;
  return { seconds, perSecond: last.n / seconds, steadyPerSecond: steady };
}

async function trackCompletion(
  count: () => Promise<{ done: number; failed: number }>,
  total: number,
  t0: number,
  timeoutMs: number,
  intervalMs = 200,
) {
  const samples: Array<{ t: number; n: number }> = [];
  let failed = 0;
  let timedOut = false;
  for (;;) {
    const c = await count();
    failed = c.failed;
    samples.push({ t: performance.now(), n: c.done });
    if (c.done + c.failed >= total) break;
    if (performance.now() - t0 > timeoutMs) {
      timedOut = true;
      break;
    }
    await sleep(intervalMs);
  }
  return { samples, failed, timedOut };
}

/**
 * The floor: `count` floor workflows started with signalWithStart, `concurrency` calls in flight
 * (another floor workflow type, with its arguments, when given: the shaped floor).
 */
export async function floorThroughput(
  client: Client,
  o: {
    count: number;
    concurrency: number;
    timeoutMs: number;
    runId: string;
    workflowType?: string;
    args?: unknown[];
    /** Started as the API starts a device's run: its ids as search attributes, the tenant as fairness key. */
    startAsDevice?: { tenantId: string };
  },
): Promise<ThroughputResult> {
  const workflowType = o.workflowType ?? FLOOR_WORKFLOW_TYPE;
  const query = `WorkflowType="${workflowType}" AND ExecutionStatus="Completed"`;
  const before = (await client.workflow.count(query)).count;
  const accept: number[] = [];
  const t0 = performance.now();
  let submittedAt = t0;
  const submitting = eachLimited(
    Array.from({ length: o.count }, (_, i) => i),
    o.concurrency,
    async (i) => {
      const started = performance.now();
      await client.workflow.signalWithStart(workflowType, {
        workflowId: `floor-${o.runId}-${i}`,
        taskQueue: FLOOR_TASK_QUEUE,
        args: o.args ?? [],
        signal: 'event',
        signalArgs: [{ deviceId: `floor-${o.runId}-${i}`, occurredAt: new Date().toISOString() }],
        ...(o.startAsDevice
          ? {
              typedSearchAttributes: [
                { key: TenantIdKey, value: o.startAsDevice.tenantId },
                { key: DeviceIdKey, value: `floor-${o.runId}-${i}` },
              ],
              priority: tenantPriority(o.startAsDevice.tenantId),
            }
          : {}),
      });
      accept.push(performance.now() - started);
    },
  ).then(() => void (submittedAt = performance.now()));
  const tracked = await trackCompletion(
    async () => ({ done: (await client.workflow.count(query)).count - before, failed: 0 }),
    o.count,
    t0,
    o.timeoutMs,
  );
  await submitting;
  const r = rates(tracked.samples, o.count, t0);
  return {
    events: o.count,
    completed: tracked.samples[tracked.samples.length - 1]!.n,
    failed: 0,
    ...r,
    submitSeconds: (submittedAt - t0) / 1000,
    acceptMs: summarize(accept),
    timedOut: tracked.timedOut,
  };
}

/**
 * A new device's registration: `Success` with a GUID and a UPN (reported to Microsoft), or, `blocked`,
 * `Workplace_Join_Required` without an Azure device id (recorded `Failed`, nothing sent to Microsoft).
 */
export function registrationFor(deviceId: string, seed: number, blocked = false): BatchEventItem {
  const random = prng(seed);
  return {
    deviceId,
    type: 'registration',
    occurredAt: new Date().toISOString(),
    platform: seed % 3 === 0 ? 'Android' : 'iOS',
    azureDeviceId: blocked ? null : guidFrom(random),
    clientStatusCode: blocked ? 'Workplace_Join_Required' : 'Success',
    userPrincipalName: `${deviceId.toLowerCase()}@bench.example`,
  };
}

async function countByStatus(stack: Stack, prefix: string): Promise<{ done: number; failed: number; total: number }> {
  const [row] = (await stack
    .db('devices')
    .where({ tenant_id: stack.tenantId })
    .andWhere('device_id', 'like', `${prefix}%`)
    .select(
      stack.db.raw(`count(*) filter (where compliance_status = 'Successful') as done`),
      stack.db.raw(`count(*) filter (where compliance_status = 'Failed') as failed`),
      stack.db.raw('count(*) as total'),
    )) as Array<{ done: string; failed: string; total: string }>;
  return { done: Number(row?.done ?? 0), failed: Number(row?.failed ?? 0), total: Number(row?.total ?? 0) };
}

/**
 * Ours at full speed: `count` registrations (distinct new devices) through POST /v1/events in
 * batches of `batchSize`, `batches` requests in flight; done when every device row reads Successful.
 */
export async function eventThroughput(
  stack: Stack,
  o: {
    count: number;
    batchSize: number;
    batches: number;
    timeoutMs: number;
    prefix: string;
    blocked?: boolean;
    /** API replicas to spread the batches over, in turn (default: the stack's one API). */
    apiUrls?: string[];
  },
): Promise<ThroughputResult> {
  const https = (o.apiUrls ?? [stack.apiUrl]).map((url) => createHttpClient(url, { maxSockets: o.batches }));
  const senders = https.map((http) => createSender(http, stack.keys.mdm, { timeoutMs: 60_000 }));
  const items = Array.from({ length: o.count }, (_, i) => registrationFor(`${o.prefix}${i}`, i + 1, o.blocked));
  const chunks: BatchEventItem[][] = [];
  for (let i = 0; i < items.length; i += o.batchSize) chunks.push(items.slice(i, i + o.batchSize));
  const accept: number[] = [];
  let rejected = 0;
  let retried = 0;
  let firstRejection = '';
  const t0 = performance.now();
  let submittedAt = t0;
  // An item the API could not hand to Temporal in time (503 + Retry-After) is sent again, as an MDM would.
  const submitting = (async () => {
    let pending = chunks;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const again: BatchEventItem[] = [];
      await eachLimited(pending, o.batches, async (chunk, i) => {
        const r = await senders[i % senders.length]!.send(chunk, true);
        accept.push(r.ms);
        r.outcomes.forEach((out, k) => {
          if (out.status === 'accepted') return;
          if (out.status === 'error' && attempt < 6 && performance.now() - t0 < o.timeoutMs) again.push(chunk[k]!);
          else {
            rejected++;
            firstRejection ||= `${out.status}: ${out.reason}`;
          }
        });
      });
      retried += again.length;
      pending = [];
      for (let i = 0; i < again.length; i += o.batchSize) pending.push(again.slice(i, i + o.batchSize));
      if (pending.length > 0) await sleep(1_000);
    }
    submittedAt = performance.now();
  })();
  // A blocked registration ends Failed (nothing can be sent without an Azure device id): that is its "done".
  const count = async () => {
    const c = await countByStatus(stack, o.prefix);
    return o.blocked ? { done: c.failed, failed: c.done } : c;
  };
  const tracked = await trackCompletion(count, o.count, t0, o.timeoutMs, 200);
  await submitting;
  for (const http of https) http.close();
  if (rejected > 0) throw new Error(`${rejected} of ${o.count} events were not accepted (first: ${firstRejection})`);
  const r = rates(tracked.samples, o.count, t0);
  return {
    events: o.count,
    completed: tracked.samples[tracked.samples.length - 1]!.n,
    failed: tracked.failed,
    ...r,
    submitSeconds: (submittedAt - t0) / 1000,
    acceptMs: summarize(accept),
    timedOut: tracked.timedOut,
    retried,
  };
}

export interface LatencyResult {
  ratePerSecond: number;
  seconds: number;
  events: number;
  successful: number;
  notSuccessful: Record<string, number>;
  /** POST → 202 (the event is durably in Temporal). */
  acceptedMs: Summary;
  /** POST → the device row reads Successful (its updated_at). */
  successfulMs: Summary;
  /** How late the open loop started its last requests (ms): > 0 means the sender could not keep the rate. */
  senderLateMs: number;
}

/**
 * Ours at a fixed rate: one registration per new device every 1/rate s through
 * POST /v1/devices/{id}/events (open loop), then the time each device row turned Successful.
 */
export async function eventLatency(
  stack: Stack,
  o: { rate: number; durationMs: number; prefix: string; settleTimeoutMs: number },
): Promise<LatencyResult> {
  const count = Math.max(1, Math.round((o.rate * o.durationMs) / 1000));
  const http = createHttpClient(stack.apiUrl, { maxSockets: 256 });
  const sender = createSender(http, stack.keys.mdm, { timeoutMs: 30_000 });
  const sentAt = new Map<string, number>();
  const accepted: number[] = [];
  const notOk = new Map<string, number>();
  const loop = await openLoop({
    rate: o.rate,
    count,
    maxInFlight: 256,
    maxMs: o.durationMs + 5_000,
    task: async (i) => {
      const item = registrationFor(`${o.prefix}${i}`, i + 1);
      sentAt.set(item.deviceId, Date.now());
      const r = await sender.send([item]);
      const out = r.outcomes[0]!;
      if (out.status === 'accepted') accepted.push(r.ms);
      else notOk.set(`${out.status}: ${out.reason}`, (notOk.get(`${out.status}: ${out.reason}`) ?? 0) + 1);
    },
  });
  http.close();
  const t0 = performance.now();
  await trackCompletion(async () => countByStatus(stack, o.prefix), accepted.length, t0, o.settleTimeoutMs, 250);
  const rows = (await stack
    .db('devices')
    .where({ tenant_id: stack.tenantId })
    .andWhere('device_id', 'like', `${o.prefix}%`)
    .select('device_id', 'compliance_status', stack.db.raw('extract(epoch from updated_at) * 1000 as updated_ms'))) as Array<{
    device_id: string;
    compliance_status: string | null;
    updated_ms: string;
  }>;
  const latencies: number[] = [];
  for (const row of rows) {
    if (row.compliance_status === 'Successful') latencies.push(Number(row.updated_ms) - sentAt.get(row.device_id)!);
    else notOk.set(`status ${row.compliance_status}`, (notOk.get(`status ${row.compliance_status}`) ?? 0) + 1);
  }
  const missing = accepted.length - rows.length;
  if (missing > 0) notOk.set('no device row', missing);
  return {
    ratePerSecond: o.rate,
    seconds: loop.seconds,
    events: loop.started,
    successful: latencies.length,
    notSuccessful: Object.fromEntries(notOk),
    acceptedMs: summarize(accepted),
    successfulMs: summarize(latencies),
    senderLateMs: Math.round(loop.lateMs),
  };
}
