/**
 * The fleet sweep (docs/architecture.md, Fleet sweeps): one machinery for the weekly report, bulk sync, turning
 * the feature on and Microsoft's resync request. Each run handles one page of the tenant's non-retired
 * devices (keyset order) in one heartbeating activity that signals every device workflow to report,
 * then continues-as-new with the cursor, so the history stays a dozen events whatever the fleet size.
 * Progress is kept in the `operations` row (the API's GET /v1/operations/{id}) and in the workflow's
 * current details (the Temporal UI).
 */
import { continueAsNew, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { FleetActivities } from '../activities/fleet-activities';
import {
  DEFAULT_SWEEP_OPTIONS,
  TRIGGER_BY_KIND,
  operationIdFromWorkflowId,
  type FleetSweepInput,
  type FleetSweepResult,
  type SweepProgress,
} from './fleet-messages';

const { beginSweep, finishSweep } = proxyActivities<FleetActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function fleetSweepWorkflow(input: FleetSweepInput): Promise<FleetSweepResult> {
  const info = workflowInfo();
  const options = { ...DEFAULT_SWEEP_OPTIONS, ...(input.options ?? {}) };
  const operationId = input.operationId ?? operationIdFromWorkflowId(input.tenantId, info.workflowId);
  const filter = input.filter ?? null;
  const { signalPage, reconcilePage } = proxyActivities<FleetActivities>({
    // A page is paced (devicesPerSecond): allow it time; a dead worker is noticed by the heartbeat.
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: options.heartbeatTimeoutMs,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });

  let progress: SweepProgress;
  if (input.progress) {
    progress = input.progress;
  } else {
    const startedAt = input.startedAt ?? info.startTime.toISOString();
    const begun = await beginSweep({ operationId, tenantId: input.tenantId, kind: input.kind, filter, startedAt });
    progress = { startedAt, devicesTotal: begun.devicesTotal, after: null, signalled: 0, skipped: 0, pages: 0 };
  }
  setCurrentDetails(summary(input.kind, operationId, progress, false));

  const trigger = TRIGGER_BY_KIND[input.kind];
  const at = {
    operationId,
    tenantId: input.tenantId,
    after: progress.after,
    signalled: progress.signalled,
    skipped: progress.skipped,
    pageSize: options.pageSize,
    batchSize: options.batchSize,
    devicesPerSecond: options.devicesPerSecond,
  };
  // A reconciliation reads each device back from Entra and tells its workflow; the others ask for a report.
  let page;
  try {
    page = trigger === 'drift' ? await reconcilePage(at) : await signalPage({ ...at, trigger, filter });
  } catch (err) {
    // Entra cannot be read at all (e.g. no Device.Read.All): the operation ends, the run fails for operators to see.
    if (trigger === 'drift') await finishSweep({ operationId, signalled: progress.signalled, skipped: progress.skipped });
    throw err;
  }
  progress = { ...progress, after: page.after, signalled: page.signalled, skipped: page.skipped, pages: progress.pages + 1 };
  setCurrentDetails(summary(input.kind, operationId, progress, page.done));

  if (!page.done) {
    await continueAsNew<typeof fleetSweepWorkflow>({ ...input, operationId, progress });
  }

  const finished = await finishSweep({ operationId, signalled: progress.signalled, skipped: progress.skipped });
  const result: FleetSweepResult = {
    operationId,
    kind: input.kind,
    devicesTotal: progress.devicesTotal,
    devicesSignalled: progress.signalled,
    devicesSkipped: progress.skipped,
    pages: progress.pages,
    finishedAt: finished.finishedAt,
  };
  setCurrentDetails(summary(input.kind, operationId, progress, true, finished.finishedAt));
  return result;
}

/** The operator's view in the Temporal UI (markdown). */
function summary(kind: string, operationId: string, p: SweepProgress, done: boolean, finishedAt?: string): string {
  return [
    `**${kind} sweep** \`${operationId}\`${done ? ' (finished)' : ''}`,
    '',
    `- started: ${p.startedAt}`,
    `- devices total (at start): ${p.devicesTotal}`,
    `- devices signalled${kind === 'reconcile' ? ' (read back from Entra)' : ''}: ${p.signalled}`,
    `- devices skipped (workflow not running${kind === 'reconcile' ? ', or Entra unreadable' : ''}): ${p.skipped}`,
    `- pages done: ${p.pages}`,
    ...(finishedAt ? [`- finished: ${finishedAt}`] : []),
  ].join('\n');
}
