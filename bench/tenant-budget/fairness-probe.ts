/**
 * Measures what decides how the connector holds each tenant to its Microsoft budget: on a Temporal
 * dev server, tenant A queues a burst of activities on one queue while tenant B queues a smaller one,
 * (1) with today's queue-wide rate limit and no fairness key, and (2) with the tenant as fairness key,
 * a per-key rate limit and `matching.enableFairness`; (3) the per-key limit on a server with fairness
 * off; (4, 5) with no rate limit but a worker that runs one 1/rate-second activity at a time, with
 * and without fairness (`capacity-fairness`, `capacity-fairness-off`: set PROBE_MODES). Prints each
 * tenant's calls per second (the busiest second) and when its burst was done.
 *
 *   npx tsx bench/tenant-budget/fairness-probe.ts [ratePerSecond=20] [burstA=400] [burstB=100]
 */
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker, Runtime, DefaultLogger } from '@temporalio/worker';
import { devServerArgs, FAIRNESS_ARGS, findTemporalCli, temporalServing } from '../../lib/temporal-cli';
import { freePort } from '../../lib/ports';

const [rate = 20, burstA = 400, burstB = 100] = process.argv.slice(2).map(Number);
const WORKFLOW_QUEUE = 'probe';
const ACTIVITY_QUEUE = 'probe-microsoft';

interface Call {
  tenant: string;
  startedAt: number;
}

async function startServer(fairness: boolean): Promise<{ address: string; stop: () => void }> {
  const binary = findTemporalCli(process.env.TEMPORAL_CLI_PATH);
  if (!binary) throw new Error('no temporal CLI');
  const port = await freePort();
  const args = [...devServerArgs({ binary, port, uiPort: await freePort() }), '--headless'];
  // devServerArgs turns fairness on, as npm start runs the server; the probe also measures without it.
  if (!fairness) args.splice(args.indexOf(FAIRNESS_ARGS[1]) - 1, 2);
  const child = spawn(binary, args, { stdio: 'ignore' });
  while (!(await temporalServing(port))) await new Promise((r) => setTimeout(r, 200));
  return { address: `127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

type Mode = 'queue-limit' | 'fairness-key-limit' | 'key-limit-fairness-off' | 'capacity-fairness' | 'capacity-fairness-off';

async function run(mode: Mode): Promise<void> {
  const capacityBound = mode.startsWith('capacity');
  const server = await startServer(mode === 'fairness-key-limit' || mode === 'capacity-fairness');
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const calls: Call[] = [];
  const native = await NativeConnection.connect({ address: server.address });
  const workflows = await Worker.create({
    connection: native,
    taskQueue: WORKFLOW_QUEUE,
    workflowsPath: path.join(__dirname, 'probe-workflows.ts'),
  });
  const perKey = mode !== 'queue-limit' && !capacityBound;
  const activities = await Worker.create({
    connection: native,
    taskQueue: ACTIVITY_QUEUE,
    activities: {
      call: async (tenant: string) => {
        calls.push({ tenant, startedAt: Date.now() });
        // Capacity-bound: the worker, not a rate limit, is what the tenants wait for.
        if (capacityBound) await new Promise((r) => setTimeout(r, 1000 / rate));
      },
    },
    maxConcurrentActivityTaskExecutions: capacityBound ? 1 : 200,
    ...(perKey || capacityBound ? {} : { maxTaskQueueActivitiesPerSecond: rate }),
  });
  if (perKey) {
    await connection.workflowService.updateTaskQueueConfig({
      namespace: 'default',
      identity: 'fairness-probe',
      taskQueue: ACTIVITY_QUEUE,
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      updateFairnessKeyRateLimitDefault: { rateLimit: { requestsPerSecond: rate }, reason: 'per-tenant Microsoft budget' },
    });
  }
  await Promise.all([
    workflows.runUntil(
      activities.runUntil(async () => {
        const t0 = Date.now();
        const start = (tenant: string, count: number) =>
          client.workflow.execute('probeFanout', {
            taskQueue: WORKFLOW_QUEUE,
            workflowId: `probe-${tenant}-${randomUUID()}`,
            args: [{ tenant, count, queue: ACTIVITY_QUEUE, priorityKey: 3, fair: perKey || capacityBound }],
          });
        const done: Record<string, number> = {};
        // B's burst is queued just after A's.
        const a = start('tenant-a', burstA).then(() => (done.A = Date.now() - t0));
        await new Promise((r) => setTimeout(r, 500));
        await Promise.all([a, start('tenant-b', burstB).then(() => (done.B = Date.now() - t0))]);
        for (const [name, tenant] of [
          ['A', 'tenant-a'],
          ['B', 'tenant-b'],
        ] as const) {
          const times = calls.filter((c) => c.tenant === tenant).map((c) => c.startedAt);
          let busiest = 0;
          for (let i = 0, j = 0; i < times.length; i++) {
            while (times[i]! - times[j]! >= 1000) j++;
            busiest = Math.max(busiest, i - j + 1);
          }
          const span = (Math.max(...times) - Math.min(...times)) / 1000;
          const first = Math.min(...times);
          const perSecond: number[] = [];
          for (const t of times) perSecond[Math.floor((t - first) / 1000)] = (perSecond[Math.floor((t - first) / 1000)] ?? 0) + 1;
          console.log(
            JSON.stringify({
              mode,
              rate,
              tenant: name,
              calls: times.length,
              busiestSecond: busiest,
              meanPerSecond: Number((times.length / Math.max(span, 0.001)).toFixed(1)),
              doneAfterS: Number((done[name]! / 1000).toFixed(1)),
              perSecond: [...perSecond].map((n) => n ?? 0),
            }),
          );
        }
      }),
    ),
  ]);
  await native.close();
  await connection.close();
  server.stop();
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const modes = (process.env.PROBE_MODES ?? 'queue-limit,fairness-key-limit,key-limit-fairness-off').split(',');
  for (const m of modes) await run(m as Parameters<typeof run>[0]);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
