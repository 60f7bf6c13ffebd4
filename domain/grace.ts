/**
 * Grace periods (docs/product-rules.md, "Grace periods"): a tenant may give a restrictive policy
 * action time before it is reported. While a device is in grace, Microsoft keeps the state it held
 * before the action; when the grace ends and the action still holds, the restrictive state is
 * reported; if a less restrictive word arrives first, the grace is cleared and nothing is reported.
 * Pure: the workflow learns the tenant's grace periods and the time, and passes them in.
 */
import type { ManagementState, PolicyAction, ReportedCompliance } from './constants';

/** ISO-8601 durations per policy action, as the tenant's settings hold them (`{}`: no grace). */
export type GracePeriods = Partial<Record<PolicyAction, string>>;

/** The actions a grace may be configured for: those that report something restrictive. */
export const GRACE_ACTIONS = ['RETIRE', 'QUARANTINE', 'BLOCK_APPCONNECT', 'BLOCK_EMAIL'] as const satisfies readonly PolicyAction[];

/** The actions whose grace the admin console warns about: access stays open on a device being locked out or wiped. */
export const GRACE_WARNED_ACTIONS: readonly PolicyAction[] = ['RETIRE', 'QUARANTINE'];

/** Longest grace accepted: a restrictive action held back for more than a month is not a grace. */
export const MAX_GRACE_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * An ISO 8601 duration of days, hours, minutes and seconds (`PT5M`, `PT30S`, `PT1H30M`, `P1D`,
 * `PT0.5S`) in milliseconds, or undefined when it is not one. Years and months are refused: their
 * length depends on the date.
 */
export function parseIsoDuration(text: string): number | undefined {
  const m = /^P(?:(\d{1,6})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,6})M)?(?:(\d{1,6}(?:\.\d{1,3})?)S)?)?$/.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const [, d, h, min, sec] = m;
  return Math.round((Number(d ?? 0) * 86_400 + Number(h ?? 0) * 3_600 + Number(min ?? 0) * 60 + Number(sec ?? 0)) * 1000);
}

/** Why a configured grace is not acceptable, or null when it is. */
export function graceProblem(action: string, duration: unknown): string | null {
  if (!(GRACE_ACTIONS as readonly string[]).includes(action)) {
    return `Grace periods apply to ${GRACE_ACTIONS.join(', ')} (the actions that report something restrictive)`;
  }
  const ms = typeof duration === 'string' ? parseIsoDuration(duration) : undefined;
  if (ms === undefined) return 'Must be an ISO 8601 duration of days, hours, minutes or seconds, such as PT24H or P2D';
  if (ms <= 0) return 'Must be longer than zero (leave the action out for no grace)';
  if (ms > MAX_GRACE_MS) return 'Must be at most P30D';
  return null;
}

/** The grace of an action in milliseconds, or null when it has none (or a value that cannot be read). */
export function graceMs(periods: GracePeriods | undefined, action: PolicyAction | null): number | null {
  if (!periods || action === null) return null;
  const text = periods[action];
  if (text === undefined || graceProblem(action, text) !== null) return null;
  return parseIsoDuration(text)!;
}

/** A restrictive action that waits for its grace to end before it is reported. */
export interface Grace {
  /** The action waiting. */
  action: PolicyAction;
  /** The `occurredAt` of the event that put it in force: the grace runs from the MDM's own time. */
  since: string;
  /** When it is reported if it still holds. */
  until: string;
  /** What Microsoft keeps holding meanwhile: the state reported before the action. */
  held: { managementState: ManagementState; complianceStatus: ReportedCompliance };
}

/** What the workflow knows when it applies an event: the tenant's grace periods and its own time. */
export interface GraceContext {
  periods: GracePeriods;
  now: string;
}

/** A change of a device's grace, for its timeline: began, ended (now reported), cleared (never reported). */
export type GracePhase = 'began' | 'ended' | 'cleared';

export interface GraceChange {
  phase: GracePhase;
  action: PolicyAction;
  until: string;
}
