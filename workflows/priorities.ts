/**
 * Task-queue priorities on the rate-limited Microsoft queue (1 runs first, Temporal's default is 3):
 * a changed device state (what Conditional Access acts on) goes ahead of an admin's sync, and both
 * ahead of the re-reports of a fleet sweep, so a weekly sweep of the whole fleet never delays them.
 * The status polls of an upload already sent run at STATUS_POLL_PRIORITY: what was started finishes first.
 */
import type { ReportTrigger } from '../domain/constants';

export const STATUS_POLL_PRIORITY = 1;

export function reportPriority(trigger: ReportTrigger): 1 | 2 | 4 {
  switch (trigger) {
    case 'compliance':
    case 'inventory':
    case 'registration':
    case 'retire':
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
