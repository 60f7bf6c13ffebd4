/**
 * Issue 6, throttle-safe at scale: what a report costs at Microsoft, and how the rate-limited
 * Microsoft task queue orders reports — against the real Temporal dev server, Postgres and the emulator.
 */
import assert from 'node:assert/strict';
import type { JournalEntry } from '../../emulator/types';
import { nextOccurredAt, waitFor, withWorker } from '../support/device-harness';
import { recordHistories, recording } from '../support/histories';
import { testEnv } from '../support/env';
import { deviceWorkflowId } from '../../workflows/messages';
import {
  newTenant,
  queuedReports,
  register,
  registrationOf,
  rowsOf,
  seedDevices,
  send,
  waitForFinished,
  waitForRow,
  waitForTrigger,
  weeklySweep,
  type FleetTenant,
} from './helpers';

/** The upload PUTs of a tenant in the journal, oldest first, with the message id each carries. */
function uploadsOf(journal: JournalEntry[], t: FleetTenant): Array<JournalEntry & { messageId: string }> {
  return journal
    .filter(
      (e) =>
        e.method === 'PUT' &&
        e.path.includes('DataUploadMessages(') &&
        (e.body as { TenantId?: string } | undefined)?.TenantId === t.tenantId,
    )
    .map((e) => ({ ...e, messageId: /guid'([^']+)'/.exec(e.path)![1]!.toLowerCase() }));
}

describe('the Microsoft task queue: calls per report, call budget and priorities (real Temporal, Postgres, Azure emulator)', function () {
  this.timeout(180_000);

  it('makes a weekly report exactly one upload and one status poll, with no user or device lookup, even on a freshly started worker', async () => {
    const env = testEnv();
    const t = await newTenant();
    // In Entra, and with no inventory: the first report looks up both the user and the device.
    const devices = await seedDevices(t, 'calls', 3);
    await withWorker(({ taskQueue }) => register(t, taskQueue, devices), { azure: t.azure, taskQueue: `calls-${t.tenantId}` });
    // The URLs of a Graph request: its path, or each item's of a JSON batch (a new device's user and
    // device lookups go in one); those naming one of these devices' users or Entra ids.
    const urlsOf = (e: JournalEntry) =>
      e.path.includes('$batch') ? ((e.body as { requests?: Array<{ url: string }> }).requests ?? []).map((r) => r.url) : [e.path];
    const ours = (url: string) =>
      devices.some((d) => url.includes(encodeURIComponent(d.userPrincipalName).replace(/%40/g, '@')) || url.includes(d.azureDeviceId));
    const graphOf = (journal: JournalEntry[]) => journal.filter((e) => e.service === 'graph' && urlsOf(e).some(ours));
    const lookups = (journal: JournalEntry[]) => graphOf(journal).flatMap(urlsOf).filter(ours);
    // The emulator is shared with other tests: only these devices' requests count.
    const firstReports = graphOf(await env.emulator.control.requests());
    assert.equal(lookups(firstReports).length, 6, 'the first reports looked up each user and device once');
    assert.deepEqual(
      firstReports.map((e) => `${e.method} ${e.path} ${urlsOf(e).length}`),
      devices.map(() => 'POST /v1.0/$batch 2'),
      "each device's two lookups in one batch",
    );

    const before = new Date().toISOString();
    await env.emulator.control.setOptions({ pollsBeforeTerminal: 0 });
    try {
      // A new worker: a new Microsoft client, with nothing cached in memory.
      await withWorker(
        async ({ taskQueue }) => {
          await waitForFinished(t, await weeklySweep(t, taskQueue, 0));
          await waitForTrigger(t, devices, 'weekly');
        },
        { azure: t.azure, taskQueue: `calls-${t.tenantId}` },
      );
    } finally {
      await env.emulator.control.setOptions({ pollsBeforeTerminal: 1 });
    }
    const journal = await env.emulator.control.requests({ since: before });
    assert.deepEqual(lookups(journal), [], 'no user or device lookup: the device workflow kept them');
    const uploads = uploadsOf(journal, t);
    assert.equal(uploads.length, devices.length, 'one upload per device');
    for (const u of uploads) {
      const polls = journal.filter((e) => e.method === 'GET' && e.path.toLowerCase().includes(`datauploadmessages(guid'${u.messageId}')`));
      assert.equal(polls.length, 1, `one status poll of ${u.messageId}`);
    }
    for (const d of devices) assert.equal((await rowsOf(t, d.deviceId, 'weekly'))[0]?.outcome, 'Successful');
  });

  it("runs a changed device's report ahead of a sweep's backlog, at the call budget's rate", async () => {
    const t = await newTenant();
    const backlog = await seedDevices(t, 'backlog', 12);
    const [newcomer] = await seedDevices(t, 'newcomer', 1);
    const taskQueue = `priority-${t.tenantId}`;
    await withWorker(({ taskQueue: q }) => register(t, q, backlog), { azure: t.azure, taskQueue });

    const before = new Date().toISOString();
    let queuedAtSend = 0;
    // 2 calls/s: 1 report activity per second, so the sweep's 12 reports queue up for 12 s, far longer
    // than the new device's event takes to reach the queue on a loaded machine.
    await withWorker(
      async () => {
        await waitForFinished(t, await weeklySweep(t, taskQueue, 0));
        // Every device workflow has scheduled its report: the queue holds the backlog.
        queuedAtSend = await waitFor(
          'the sweep reports queued',
          async () => {
            const n = await queuedReports(t, backlog);
            return n >= 9 ? n : null;
          },
          20_000,
        );
        await send(t, taskQueue, newcomer!.deviceId, registrationOf(newcomer!));
        await waitForRow(t, newcomer!.deviceId, (r) => r.complianceStatus === 'Successful', 'the new device reported');
        await waitForTrigger(t, backlog, 'weekly', 60_000);
      },
      { azure: t.azure, taskQueue, azureMaxCallsPerSecond: 2 },
    );

    const uploads = uploadsOf(await testEnv().emulator.control.requests({ since: before }), t);
    const registration = (await rowsOf(t, newcomer!.deviceId, 'registration'))[0]!;
    const weeklyIds = new Set(
      await Promise.all(backlog.map(async (d) => (await rowsOf(t, d.deviceId, 'weekly'))[0]!.messageId!.toLowerCase())),
    );
    const position = uploads.findIndex((u) => u.messageId === registration.messageId!.toLowerCase());
    assert.ok(position >= 0, 'the new device was uploaded');
    const weeklyAfter = uploads.slice(position + 1).filter((u) => weeklyIds.has(u.messageId)).length;
    // First in, first out, only the sweep's reports not yet queued when it registered could come after
    // it; ahead of the queue, more do (the rest leave the queue while its report is being scheduled).
    const fifoAtMost = backlog.length - queuedAtSend;
    assert.ok(
      weeklyAfter > fifoAtMost,
      `the new device went ahead of the sweep's backlog (${queuedAtSend} queued when it registered, ${weeklyAfter} uploaded after it; first in, first out would allow at most ${fifoAtMost})`,
    );
    const weeklyTimes = uploads.filter((u) => weeklyIds.has(u.messageId)).map((u) => Date.parse(u.at));
    // 12 reports at 1 activity/s take about 12 s; unlimited they take well under one.
    assert.ok(Math.max(...weeklyTimes) - Math.min(...weeklyTimes) >= 3_000, 'the sweep ran at the budget, not at full speed');
  });

  it('replaces a weekly report still queued by the report of a newer state, so nothing is sent twice', async function () {
    const t = await newTenant();
    const [device] = await seedDevices(t, 'superseded', 1);
    const taskQueue = `supersede-${t.tenantId}`;
    await withWorker(({ taskQueue: q }) => register(t, q, [device!]), { azure: t.azure, taskQueue });

    const before = new Date().toISOString();
    // No worker serves the Microsoft queue: the weekly report stays queued.
    await withWorker(
      async () => {
        await waitForFinished(t, await weeklySweep(t, taskQueue, 0));
        await waitFor('the weekly report queued', async () => (await queuedReports(t, [device!])) === 1, 20_000);
        await send(t, taskQueue, device!.deviceId, { type: 'compliance', occurredAt: nextOccurredAt(), actions: ['QUARANTINE'] });
        await waitForRow(
          t,
          device!.deviceId,
          (r) => r.policyAction === 'QUARANTINE' && r.complianceStatus === 'In-progress',
          'the newer state applied',
        );
      },
      { azure: t.azure, taskQueue, microsoftTaskQueue: `nobody-${t.tenantId}` },
    );
    await withWorker(
      async () => {
        await waitForRow(
          t,
          device!.deviceId,
          (r) => r.policyAction === 'QUARANTINE' && r.complianceStatus === 'Successful',
          'the newer state reported',
        );
      },
      { azure: t.azure, taskQueue },
    );

    const uploads = uploadsOf(await testEnv().emulator.control.requests({ since: before }), t);
    const compliance = await rowsOf(t, device!.deviceId, 'compliance');
    assert.equal(compliance.length, 1);
    assert.deepEqual(
      uploads.map((u) => u.messageId),
      [compliance[0]!.messageId!.toLowerCase()],
      'one upload: the newer state',
    );
    assert.deepEqual(await rowsOf(t, device!.deviceId, 'weekly'), [], 'the weekly request was answered by the newer report');
    assert.equal((await testEnv().emulator.control.entraDevice(t.tenantId, device!.azureDeviceId))?.isCompliant, false);
    // The replay guard keeps this run: it is the one history where a queued report is cancelled.
    if (recording) await recordHistories(this.test!.title, [deviceWorkflowId(t.tenantId, device!.deviceId)]);
  });
});
