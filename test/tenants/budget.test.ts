/**
 * Microsoft's budget is per tenant (AZURE_MAX_CALLS_PER_SECOND each), across all workers: two tenants
 * of one partner app on the same worker and the same Microsoft queue, each held to its own budget at
 * the emulator, and one tenant's backlog does not hold the other's reports back. Real Temporal dev
 * server, Postgres and the Azure emulator.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import type { AzureCredentials } from '../../config';
import type { JournalEntry } from '../../emulator/types';
import { microsoftActivitiesPerSecond } from '../../workers/worker';
import { microsoftTaskQueueOf } from '../../workflows/fleet-messages';
import { waitFor, withWorker } from '../support/device-harness';
import { testEnv } from '../support/env';
import { queuedReports, register, seedDevices, waitForFinished, waitForTrigger, weeklySweep, type FleetTenant } from '../fleet/helpers';

const CALLS_PER_SECOND = 4;
/**
 * What the server's rate limiter lets through beyond the steady rate, in seconds of budget: its burst
 * (about two seconds' worth, docs/benchmarks.md), plus the status poll an upload makes a second later.
 */
const BURST_SECONDS = 3;

/** One partner app, consented in `count` new tenants of the emulator. */
async function partnerTenants(count: number): Promise<FleetTenant[]> {
  const env = testEnv();
  const app = { clientId: randomUUID(), clientSecret: `secret-${randomUUID()}` };
  const tenants = Array.from({ length: count }, () => randomUUID());
  await env.emulator.control.seed({ tenants: tenants.map((tenantId) => ({ tenantId, apps: [app] })) });
  return tenants.map((tenantId) => ({ tenantId, azure: { ...env.azure, ...app, tenantId } satisfies AzureCredentials }));
}

/** The most calls of one tenant the emulator saw in any window of `seconds`. */
function busiestWindow(calls: JournalEntry[], seconds: number): number {
  const times = calls.map((c) => Date.parse(c.at)).sort((a, b) => a - b);
  let busiest = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= seconds * 1000) j++;
    busiest = Math.max(busiest, i - j + 1);
  }
  return busiest;
}

const isUpload = (e: JournalEntry) => e.method === 'PUT' && e.path.includes('DataUploadMessages(');

describe('Microsoft budget per tenant (real Temporal, Postgres, Azure emulator)', function () {
  this.timeout(240_000);

  it("holds each tenant to its own budget on the shared Microsoft queue, and one tenant's backlog does not hold the other back", async () => {
    const env = testEnv();
    const [busy, quiet] = (await partnerTenants(2)) as [FleetTenant, FleetTenant];
    const busyDevices = await seedDevices(busy, 'busy', 30);
    const quietDevices = await seedDevices(quiet, 'quiet', 6);
    const taskQueue = `budget-${randomUUID()}`;
    let before = '';
    let busyQueued = 0;
    await withWorker(
      async ({ taskQueue: q }) => {
        // The worker asked the server to hold each tenant (fairness key) to the budget.
        const { config } = await env.temporalClient.workflowService.describeTaskQueue({
          namespace: env.namespace,
          taskQueue: { name: microsoftTaskQueueOf(q) },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
          reportConfig: true,
        });
        assert.equal(
          config?.fairnessKeysRateLimitDefault?.rateLimit?.requestsPerSecond,
          microsoftActivitiesPerSecond(CALLS_PER_SECOND),
          'a rate limit per fairness key',
        );
        await register(busy, q, busyDevices);
        await register(quiet, q, quietDevices);

        before = new Date().toISOString();
        await waitForFinished(busy, await weeklySweep(busy, q));
        busyQueued = await waitFor(
          "the busy tenant's reports queued",
          async () => {
            const n = await queuedReports(busy, busyDevices);
            return n >= 20 ? n : null;
          },
          60_000,
        );
        // The quiet tenant's sweep starts behind the busy tenant's backlog, at the same priority.
        await waitForFinished(quiet, await weeklySweep(quiet, q));
        await waitForTrigger(quiet, quietDevices, 'weekly', 60_000);
        await waitForTrigger(busy, busyDevices, 'weekly', 90_000);
      },
      { azure: busy.azure, taskQueue, azureMaxCallsPerSecond: CALLS_PER_SECOND },
    );

    const busyCalls = await env.emulator.control.requests({ service: 'intune', tenantId: busy.tenantId, since: before });
    const quietCalls = await env.emulator.control.requests({ service: 'intune', tenantId: quiet.tenantId, since: before });
    assert.equal(busyCalls.filter(isUpload).length, busyDevices.length, 'one weekly upload per busy device');
    assert.equal(quietCalls.filter(isUpload).length, quietDevices.length, 'one weekly upload per quiet device');
    // Each upload and status poll names its own tenant only.
    for (const [calls, t] of [
      [busyCalls, busy],
      [quietCalls, quiet],
    ] as const) {
      for (const c of calls.filter(isUpload)) assert.equal((c.body as { TenantId?: string }).TenantId, t.tenantId);
    }

    // Each tenant within its own budget: over any 5 s, at most 5 s of budget and the burst.
    const ceiling = CALLS_PER_SECOND * (5 + BURST_SECONDS);
    for (const [name, calls] of [
      ['busy', busyCalls],
      ['quiet', quietCalls],
    ] as const) {
      const busiest = busiestWindow(calls, 5);
      assert.ok(
        busiest <= ceiling,
        `${name} tenant: ${busiest} calls in its busiest 5 s, budget ${CALLS_PER_SECOND}/s (ceiling ${ceiling})`,
      );
    }

    // Not one shared budget: the quiet tenant's reports, queued after the busy tenant's backlog, ran
    // beside it instead of after it. First in, first out, every busy upload would come first; side by
    // side, the busy tenant drains at its own rate only while the quiet sweep starts and runs, which
    // on a loaded machine takes a few seconds, so a third of its backlog is a safe floor.
    const lastQuiet = Math.max(...quietCalls.filter(isUpload).map((c) => Date.parse(c.at)));
    const busyAfter = busyCalls.filter(isUpload).filter((c) => Date.parse(c.at) > lastQuiet).length;
    assert.ok(
      busyAfter >= Math.ceil(busyQueued / 3),
      `the quiet tenant finished while the busy one still had ${busyAfter} of its ${busyQueued} queued uploads to send`,
    );
  });
});
