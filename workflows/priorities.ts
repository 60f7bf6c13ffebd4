/**
 * Task-queue priorities on the rate-limited Microsoft queue (1 runs first, Temporal's default is 3):
 * a changed device state (what Conditional Access acts on) goes ahead of an admin's sync, and both
 * ahead of the re-reports of a fleet sweep, so a weekly sweep of the whole fleet never delays them.
 * The status polls of an upload already sent run at STATUS_POLL_PRIORITY: what was started finishes first.
 */
import type { Priority } from '@temporalio/common';
import type { ReportTrigger } from '../domain/constants';

export const STATUS_POLL_PRIORITY = 1;

export function reportPriority(trigger: ReportTrigger): 1 | 2 | 4 {
  switch (trigger) {
    case 'compliance':
    case 'inventory':
    case 'registration':
    case 'retire':
      return 1;
    case 'manual':
      return 2;
    case 'weekly':
    case 'enable':
    case 'resync':
      return 4;
  }
}

/** Temporal's limit on a fairness key. */
const MAX_FAIRNESS_KEY_LENGTH = 64;

/**
 * The priority of a tenant's work: the tenant as fairness key, and the priority key when given. A
 * device workflow starts with it, so its workflow tasks take turns with other tenants' instead of
 * queueing behind a neighbour's sweep; every activity that calls Microsoft carries it with its own
 * priority key, and the server holds each fairness key of the Microsoft queue to the per-tenant budget
 * (workers/microsoft-budget.ts).
 */
export function tenantPriority(tenantId: string, priorityKey?: number): Priority {
  return { ...(priorityKey !== undefined ? { priorityKey } : {}), fairnessKey: tenantId.toLowerCase().slice(0, MAX_FAIRNESS_KEY_LENGTH) };
}
