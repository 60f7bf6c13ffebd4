/**
 * Task-queue priorities on the rate-limited Microsoft queue (1 runs first, Temporal's default is 3):
 * a changed device state (what Conditional Access acts on) goes ahead of an admin's sync, and both
 * ahead of the re-reports of a fleet sweep, so a weekly sweep of the whole fleet never delays them.
 * The status polls of an upload already sent run at STATUS_POLL_PRIORITY: what was started finishes first.
 * A drift re-report runs with a changed device's reports: Entra no longer holds what the MDM said, so
 * Conditional Access acts on a wrong state now, and only the few drifted devices are re-sent.
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
    case 'drift':
    case 'grace':
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
 * The priority of an activity that calls Microsoft for a tenant: its priority key, and the tenant as
 * fairness key. The server holds each fairness key to the per-tenant budget on the shared Microsoft
 * queue (workers/microsoft-budget.ts) and takes the tenants in turn, so one tenant's backlog neither
 * spends another's budget nor delays its reports.
 */
export function microsoftPriority(tenantId: string, priorityKey?: number): Priority {
  return { ...(priorityKey !== undefined ? { priorityKey } : {}), fairnessKey: tenantId.toLowerCase().slice(0, MAX_FAIRNESS_KEY_LENGTH) };
}
