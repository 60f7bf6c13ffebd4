/**
 * A plain reference model of one device's life, written from the device rules (per-device ordering
 * across lifecycles, re-enrolment, which Azure device ids are reported to, what Microsoft must hold)
 * and nothing else: it imports nothing from domain/ or workflows/, so a mistake in the product cannot
 * hide in it.
 *
 * Input: one device's steps in arrival order (its MDM events, and the global steps that happened
 * between them). Output: each event's outcome, the final lifecycle, what Microsoft must hold for
 * every Azure device id the device ever named (as predicates), and the expected read-model fields.
 */

export type Platform = 'iOS' | 'Android';
export type ClientStatusCode =
  | 'Success'
  | 'Internal_Error'
  | 'Workplace_Join_Required'
  | 'Interaction_Required'
  | 'Server_Declined_Scopes'
  | 'Server_Protection_Policies_Required'
  | 'User_Canceled'
  | 'Account_logged_out';
export type PolicyAction = 'RETIRE' | 'QUARANTINE' | 'BLOCK_APPCONNECT' | 'BLOCK_EMAIL' | 'SEND_ALERT';
export interface ModelInventory {
  deviceName: string;
  os: string;
  osVersion: string;
  model?: string;
}

/** The MDM's events, shaped as the API takes them. */
export type MdmEvent =
  | {
      type: 'registration';
      occurredAt: string;
      platform: Platform;
      azureDeviceId: string | null;
      clientStatusCode: ClientStatusCode;
      userPrincipalName?: string;
    }
  | { type: 'compliance'; occurredAt: string; actions: PolicyAction[] }
  | { type: 'inventory'; occurredAt: string; inventory: ModelInventory }
  | { type: 'retire'; occurredAt: string };

/** How Microsoft misbehaves from this step on, until healed. */
export type MicrosoftFault = 'unavailable' | 'throttled' | 'failedMessages';

/** One device's steps, in the order they happened; global steps are seen by every device. */
export type Step =
  | { kind: 'event'; event: MdmEvent }
  | { kind: 'reporting'; enabled: boolean }
  | { kind: 'sync' }
  | { kind: 'microsoft'; fault: MicrosoftFault | null };

export type Outcome = 'applied' | 'stale' | 'refused';

/** The tenant's grace periods, in milliseconds per action (none: the default runs). */
export type ModelGraces = Partial<Record<PolicyAction, number>>;

/** Precedence of the actions, most restrictive first. */
const RESTRICTIVENESS: readonly PolicyAction[] = ['RETIRE', 'QUARANTINE', 'BLOCK_APPCONNECT', 'BLOCK_EMAIL', 'SEND_ALERT'];

export function mostRestrictive(actions: readonly PolicyAction[]): PolicyAction | null {
  return RESTRICTIVENESS.find((a) => actions.includes(a)) ?? null;
}

/** Compliant when nothing stronger than SEND_ALERT is in force. */
export function isCompliantPolicy(actions: readonly PolicyAction[]): boolean {
  const a = mostRestrictive(actions);
  return a === null || a === 'SEND_ALERT';
}

type Kind = MdmEvent['type'];

interface Registration {
  platform: Platform;
  azureDeviceId: string | null;
  clientStatusCode: ClientStatusCode;
  userPrincipalName: string | null;
}

interface Lifecycle {
  index: number;
  registration: Registration | null;
  actions: PolicyAction[];
  inventory: ModelInventory | null;
  retiredAt: number | null;
  /** Every Azure device id that was this lifecycle's current target at some moment (it may have been reported to). */
  targets: Set<string>;
}

/** What the model says Microsoft may hold for one Azure device id. */
export type MicrosoftExpectation =
  /** The current target of a live lifecycle: exactly managed, compliant as the policy says, its inventory. */
  | { kind: 'exact'; isManaged: true; isCompliant: boolean; inventory: ModelInventory | null }
  /** Reported to in a lifecycle that is retired now (or the device is retired): removed, never managed or compliant. */
  | { kind: 'removed' }
  /** A former target while the policy is non-compliant now: never compliant. */
  | { kind: 'notCompliant' }
  /** A former target while the policy is compliant now: any state. */
  | { kind: 'any' }
  /** Never a target: Microsoft's initial state, untouched. */
  | { kind: 'untouched' };

/** The Entra view the predicates judge (the emulator's control plane gives exactly these). */
export interface MicrosoftView {
  isManaged: boolean | null;
  isCompliant: boolean | null;
  inventory: Record<string, unknown> | null;
}

/** null when the view satisfies the expectation, else why not. */
export function violation(expect: MicrosoftExpectation, view: MicrosoftView | null): string | null {
  const managed = view?.isManaged ?? null;
  const compliant = view?.isCompliant ?? null;
  const seen = `isManaged=${String(managed)} isCompliant=${String(compliant)}`;
  switch (expect.kind) {
    case 'exact': {
      if (managed !== true || compliant !== expect.isCompliant)
        return `expected isManaged=true isCompliant=${expect.isCompliant}, Microsoft holds ${seen}`;
      if (expect.inventory !== null) {
        const inv = view?.inventory ?? {};
        if (inv.DeviceName !== expect.inventory.deviceName || inv.OsVersion !== expect.inventory.osVersion) {
          return `expected inventory ${expect.inventory.deviceName}/${expect.inventory.osVersion}, Microsoft holds ${String(inv.DeviceName)}/${String(inv.OsVersion)}`;
        }
      }
      return null;
    }
    case 'removed':
      return managed === true || compliant === true ? `retired: expected neither managed nor compliant, Microsoft holds ${seen}` : null;
    case 'notCompliant':
      return compliant === true ? `policy non-compliant now: expected not compliant, Microsoft holds ${seen}` : null;
    case 'any':
      return null;
    case 'untouched':
      return managed !== null || compliant !== null ? `never reported to: expected untouched, Microsoft holds ${seen}` : null;
  }
}

/** The read-model fields the model predicts (`GET /v1/devices/{id}` once settled, reporting on). */
export interface ExpectedDetails {
  retired: boolean;
  retiredAt: string | null;
  platform: Platform | null;
  azureDeviceIdentifier: string | null;
  azureClientStatusCode: ClientStatusCode | null;
  /** Checked only while the device is not retired. */
  policyAction: PolicyAction | null;
  reportedCompliance: 'compliant' | 'notCompliant';
  managementState: 'managed' | 'notManaged';
  /** null: not predicted (a retired device that never registered). */
  azureDeviceComplianceStatus: 'Successful' | 'Failed' | 'In-progress' | null;
  inventory: ModelInventory | null;
  userPrincipalName: string | null;
}

export interface ModelResult {
  /** One per `event` step, in order. */
  outcomes: Outcome[];
  lifecycles: number;
  retired: boolean;
  /** Every Azure device id the device's events named. */
  azureDeviceIds: string[];
  microsoft: Map<string, MicrosoftExpectation>;
  details: ExpectedDetails;
  /** Whether an upload may have ended Failed at Microsoft (such a report is not retried by rule). */
  sawFailedMessages: boolean;
  /**
   * When the grace window of the restrictive actions in force ends (ms), or null when none is open
   * for the final lifecycle. Inside it Microsoft keeps the device compliant; outside it every rule
   * holds exactly.
   */
  graceWindowUntil: number | null;
}

/**
 * The grace window after a compliance event: a run of restrictive words (from the first restrictive
 * word after a compliant one) has a window only if every restrictive action of every word in the run
 * has a grace; it ends at the earliest `occurredAt + grace` of them. undefined: no restrictive run;
 * -Infinity: a run without a window.
 */
function nextGraceWindow(
  previous: number | undefined,
  actions: readonly PolicyAction[],
  t: number,
  graces: ModelGraces,
): number | undefined {
  const restrictive = actions.filter((a) => !isCompliantPolicy([a]));
  if (restrictive.length === 0) return undefined;
  const spans = restrictive.map((a) => graces[a]);
  const mine = spans.some((g) => g === undefined) ? Number.NEGATIVE_INFINITY : t + Math.min(...(spans as number[]));
  return previous === undefined ? mine : Math.min(previous, mine);
}

const ms = (iso: string): number => Date.parse(iso);

function isRetire(e: MdmEvent): boolean {
  return e.type === 'retire' || (e.type === 'compliance' && e.actions.includes('RETIRE'));
}

/** The current target of a lifecycle: its latest registration's id when that registration succeeded. */
function currentTarget(l: Lifecycle): string | null {
  const r = l.registration;
  return r !== null && r.clientStatusCode === 'Success' && r.azureDeviceId !== null ? r.azureDeviceId.toLowerCase() : null;
}

/**
 * `graces` and `now` (ms): the tenant's grace periods and the time the device took its events; a
 * window already over at `now` never opened.
 */
export function runModel(steps: readonly Step[], graces: ModelGraces = {}, now = Number.POSITIVE_INFINITY): ModelResult {
  const newest: Partial<Record<Kind, number>> = {};
  let closedAt: number | null = null;
  let openedAt: number | null = null;
  const lifecycles: Lifecycle[] = [];
  const fresh = (): Lifecycle => ({
    index: lifecycles.length,
    registration: null,
    actions: [],
    inventory: null,
    retiredAt: null,
    targets: new Set(),
  });
  let life = fresh();
  lifecycles.push(life);
  let graceWindow: number | undefined;
  const outcomes: Outcome[] = [];
  const named = new Set<string>();
  let sawFailedMessages = false;

  const noteTarget = () => {
    const t = currentTarget(life);
    if (t !== null) life.targets.add(t);
  };

  for (const step of steps) {
    if (step.kind === 'microsoft') {
      if (step.fault === 'failedMessages') sawFailedMessages = true;
      continue;
    }
    if (step.kind !== 'event') continue;
    const e = step.event;
    const t = ms(e.occurredAt);
    if (e.type === 'registration' && e.azureDeviceId !== null) named.add(e.azureDeviceId.toLowerCase());

    // 1. Retired.
    if (life.retiredAt !== null) {
      if (e.type !== 'registration') {
        outcomes.push('refused');
        continue;
      }
      // Older than the retire, or than the newest registration applied: it cannot open a lifecycle.
      if (t < life.retiredAt || (newest.registration !== undefined && t < newest.registration)) {
        outcomes.push('stale');
        continue;
      }
      closedAt = life.retiredAt;
      openedAt = t;
      graceWindow = undefined;
      life = fresh();
      lifecycles.push(life);
      life.registration = {
        platform: e.platform,
        azureDeviceId: e.azureDeviceId,
        clientStatusCode: e.clientStatusCode,
        userPrincipalName: e.userPrincipalName ?? null,
      };
      newest.registration = t;
      noteTarget();
      outcomes.push('applied');
      continue;
    }

    // 2. Not retired: stale?
    const previous = newest[e.type];
    const stale =
      (previous !== undefined && t < previous) || (closedAt !== null && t < closedAt) || (isRetire(e) && openedAt !== null && t < openedAt);
    if (stale) {
      outcomes.push('stale');
      continue;
    }
    switch (e.type) {
      case 'registration':
        life.registration = {
          platform: e.platform,
          azureDeviceId: e.azureDeviceId,
          clientStatusCode: e.clientStatusCode,
          userPrincipalName: e.userPrincipalName ?? life.registration?.userPrincipalName ?? null,
        };
        break;
      case 'compliance':
        life.actions = [...e.actions];
        if (e.actions.includes('RETIRE')) life.retiredAt = t;
        graceWindow = nextGraceWindow(graceWindow, e.actions, t, graces);
        break;
      case 'inventory':
        life.inventory = { ...e.inventory };
        break;
      case 'retire':
        life.retiredAt = t;
        break;
    }
    newest[e.type] = t;
    noteTarget();
    outcomes.push('applied');
  }

  const retired = life.retiredAt !== null;
  const target = currentTarget(life);
  const microsoft = new Map<string, MicrosoftExpectation>();
  for (const id of named) {
    if (!retired && id === target) {
      microsoft.set(id, { kind: 'exact', isManaged: true, isCompliant: isCompliantPolicy(life.actions), inventory: life.inventory });
      continue;
    }
    // The latest lifecycle that had the id as a target decides.
    const last = [...lifecycles].reverse().find((l) => l.targets.has(id));
    if (last === undefined) microsoft.set(id, { kind: 'untouched' });
    else if (last.retiredAt !== null) microsoft.set(id, { kind: 'removed' });
    // A non-compliant change whose upload ended Failed is not retried by rule (only a retire is), and
    // a sync re-sends the current target alone: after such faults a former target is not judged.
    else microsoft.set(id, isCompliantPolicy(life.actions) || sawFailedMessages ? { kind: 'any' } : { kind: 'notCompliant' });
  }

  const reg = life.registration;
  const compliant = isCompliantPolicy(life.actions);
  let status: ExpectedDetails['azureDeviceComplianceStatus'];
  if (reg === null) status = retired ? null : 'In-progress';
  else status = reg.clientStatusCode === 'Success' ? 'Successful' : 'Failed';
  return {
    outcomes,
    lifecycles: lifecycles.length,
    retired,
    azureDeviceIds: [...named],
    microsoft,
    sawFailedMessages,
    graceWindowUntil: !retired && graceWindow !== undefined && graceWindow > now ? graceWindow : null,
    details: {
      retired,
      retiredAt: life.retiredAt === null ? null : new Date(life.retiredAt).toISOString(),
      platform: reg?.platform ?? null,
      azureDeviceIdentifier: reg?.azureDeviceId ?? null,
      azureClientStatusCode: reg?.clientStatusCode ?? null,
      policyAction: mostRestrictive(life.actions),
      reportedCompliance: retired || !compliant ? 'notCompliant' : 'compliant',
      managementState: retired ? 'notManaged' : 'managed',
      azureDeviceComplianceStatus: status,
      inventory: life.inventory,
      userPrincipalName: reg?.userPrincipalName ?? null,
    },
  };
}

/** The read-model fields as `GET /v1/devices/{id}` (or a projection of the workflow's state) shows them. */
export interface ObservedDetails {
  retiredAt: string | null;
  platform: string | null;
  azureDeviceIdentifier: string | null;
  azureClientStatusCode: string | null;
  policyAction: string | null;
  reportedCompliance: string | null;
  managementState: string | null;
  azureDeviceComplianceStatus: string | null;
  lastError: { code: string } | null;
  inventory: Record<string, unknown> | null;
}

/** Every field where `seen` disagrees with the model, as readable lines (empty when it agrees). */
export function detailMismatches(expected: ExpectedDetails, seen: ObservedDetails): string[] {
  const out: string[] = [];
  const eq = (field: string, want: unknown, got: unknown) => {
    if (JSON.stringify(want) !== JSON.stringify(got)) out.push(`${field}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  };
  const seenRetiredAt = seen.retiredAt === null ? null : new Date(ms(seen.retiredAt)).toISOString();
  eq('retiredAt', expected.retiredAt, seenRetiredAt);
  eq('platform', expected.platform, seen.platform);
  eq('azureDeviceIdentifier', expected.azureDeviceIdentifier?.toLowerCase() ?? null, seen.azureDeviceIdentifier?.toLowerCase() ?? null);
  eq('azureClientStatusCode', expected.azureClientStatusCode, seen.azureClientStatusCode);
  if (!expected.retired) {
    eq('policyAction', expected.policyAction, seen.policyAction);
    eq('reportedCompliance', expected.reportedCompliance, seen.reportedCompliance);
    eq('managementState', expected.managementState, seen.managementState);
  }
  if (expected.azureDeviceComplianceStatus !== null)
    eq('azureDeviceComplianceStatus', expected.azureDeviceComplianceStatus, seen.azureDeviceComplianceStatus);
  if (seen.azureDeviceComplianceStatus === 'Successful' && seen.lastError !== null)
    out.push(`lastError: expected null next to Successful, got ${JSON.stringify(seen.lastError)}`);
  if (
    expected.azureDeviceComplianceStatus === 'Failed' &&
    expected.azureClientStatusCode !== 'Success' &&
    expected.azureClientStatusCode !== null
  ) {
    eq('lastError.code', expected.azureClientStatusCode, seen.lastError?.code ?? null);
  }
  const inv = (i: Record<string, unknown> | ModelInventory | null) =>
    i === null ? null : { deviceName: i.deviceName, os: i.os, osVersion: i.osVersion };
  eq('inventory', inv(expected.inventory), inv(seen.inventory));
  return out;
}
