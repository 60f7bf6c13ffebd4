/**
 * The invariant every fault must keep, for every device of the load: Microsoft's state (the emulator's
 * Entra view of the device's current Azure device id) is what its last accepted event implies, and
 * `GET /v1/devices/{id}` agrees and is `Successful`.
 *
 * What an event implies is written out here on purpose, from the contract (docs/reliability.md),
 * not taken from the connector's own code: a Success registration with the most restrictive action
 * in force QUARANTINE, BLOCK_APPCONNECT or BLOCK_EMAIL → managed + notCompliant; SEND_ALERT or none →
 * managed + compliant; retired → notManaged + notCompliant.
 *
 * An accepted event is lost when the final state does not show it: the last accepted event of each
 * kind of the device's current lifecycle (its Azure device id, its policy action, its inventory's OS
 * version, its retirement).
 */
import type { DeviceEvent } from '../../domain/events';
import type { EmulatorControl } from '../../emulator/control-client';
import type { EntraDeviceView } from '../../emulator/types';
import { createHttpClient } from '../../scripts/simulator/http';
import { sleep } from '../lib/child';
import type { LoadDevice } from './load';

const RESTRICTIVENESS = ['RETIRE', 'QUARANTINE', 'BLOCK_APPCONNECT', 'BLOCK_EMAIL', 'SEND_ALERT'] as const;
const NOT_COMPLIANT = new Set(['QUARANTINE', 'BLOCK_APPCONNECT', 'BLOCK_EMAIL']);

export interface Expected {
  azureDeviceId: string;
  retired: boolean;
  managed: boolean;
  compliant: boolean;
  policyAction: string | null;
  /** The OS version of the lifecycle's last accepted inventory, if any. */
  osVersion: string | null;
}

/** What the device's accepted events (plus `extra`, an event whose fate is unknown) imply; null before any registration. */
export function expectedState(events: readonly DeviceEvent[]): Expected | null {
  let lastRegistration = -1;
  events.forEach((e, i) => {
    if (e.type === 'registration') lastRegistration = i;
  });
  if (lastRegistration < 0) return null;
  const reg = events[lastRegistration] as Extract<DeviceEvent, { type: 'registration' }>;
  if (reg.clientStatusCode !== 'Success' || !reg.azureDeviceId) return null;
  let actions: readonly string[] = [];
  let retired = false;
  let osVersion: string | null = null;
  for (const e of events.slice(lastRegistration + 1)) {
    if (e.type === 'compliance') actions = e.actions;
    else if (e.type === 'inventory') osVersion = e.inventory.osVersion;
    else if (e.type === 'retire') retired = true;
  }
  const policyAction = RESTRICTIVENESS.find((a) => actions.includes(a)) ?? null;
  return {
    azureDeviceId: reg.azureDeviceId,
    retired,
    managed: !retired,
    compliant: !retired && (policyAction === null || !NOT_COMPLIANT.has(policyAction)),
    policyAction,
    osVersion,
  };
}

export interface DeviceDetails {
  azureDeviceIdentifier: string | null;
  azureDeviceComplianceStatus: string | null;
  policyAction: string | null;
  reportedCompliance: string | null;
  managementState: string | null;
  retiredAt: string | null;
}

export interface Observed {
  entra: (Pick<EntraDeviceView, 'isManaged' | 'isCompliant'> & { osVersion: string | null; messages: number }) | null;
  details: DeviceDetails | null;
}

export interface Verdict {
  ok: boolean;
  /** What disagrees, in words (empty when ok). */
  problems: string[];
  /** Kinds whose last accepted event the final state does not show. */
  lost: string[];
}

export function judge(expected: Expected, seen: Observed): Verdict {
  const problems: string[] = [];
  const lost: string[] = [];
  const e = seen.entra;
  const d = seen.details;
  if (!e) problems.push(`Microsoft has no device ${expected.azureDeviceId}`);
  else {
    if (e.isManaged !== expected.managed) problems.push(`Microsoft isManaged=${String(e.isManaged)}, expected ${expected.managed}`);
    if (e.isCompliant !== expected.compliant)
      problems.push(`Microsoft isCompliant=${String(e.isCompliant)}, expected ${expected.compliant}`);
  }
  const managementState = expected.managed ? 'managed' : 'notManaged';
  const reportedCompliance = expected.compliant ? 'compliant' : 'notCompliant';
  if (!d) problems.push('GET /v1/devices/{id} is 404');
  else {
    if (d.azureDeviceIdentifier !== expected.azureDeviceId)
      problems.push(`GET azureDeviceIdentifier=${String(d.azureDeviceIdentifier)}, expected ${expected.azureDeviceId}`);
    if (d.azureDeviceComplianceStatus !== 'Successful')
      problems.push(`GET azureDeviceComplianceStatus=${String(d.azureDeviceComplianceStatus)}`);
    if (d.managementState !== managementState)
      problems.push(`GET managementState=${String(d.managementState)}, expected ${managementState}`);
    if (d.reportedCompliance !== reportedCompliance)
      problems.push(`GET reportedCompliance=${String(d.reportedCompliance)}, expected ${reportedCompliance}`);
    if ((d.retiredAt !== null) !== expected.retired)
      problems.push(`GET retiredAt=${String(d.retiredAt)}, expected ${expected.retired ? 'a time' : 'null'}`);
  }
  if (!d || d.azureDeviceIdentifier !== expected.azureDeviceId) lost.push('registration');
  if (expected.retired && (!d || d.retiredAt === null)) lost.push('retire');
  if (!expected.retired && d && d.policyAction !== expected.policyAction) lost.push('compliance');
  if (!expected.retired && expected.osVersion !== null && e && e.osVersion !== expected.osVersion) lost.push('inventory');
  return { ok: problems.length === 0 && lost.length === 0, problems, lost };
}

export interface DeviceReport {
  deviceId: string;
  expected: Expected | null;
  observed: Observed;
  problems: string[];
  lost: string[];
  /** The device's accepted events of the run, oldest first, for the report. */
  events: Array<DeviceEvent & { acceptedAt: string }>;
}

export interface ConvergenceResult {
  devices: number;
  /** Milliseconds from the end of the fault until every device was right; null when some never were. */
  convergedAfterMs: number | null;
  /** Devices still wrong at the deadline (0 is the invariant). */
  wrong: number;
  /** Accepted events whose effect is missing at the deadline (0 is the invariant). */
  lost: number;
  /** Devices with an event whose fate is unknown (sent, never answered 202 before the load stopped). */
  unresolved: number;
  wrongDevices: DeviceReport[];
}

export class InvariantChecker {
  private readonly http;

  constructor(private readonly o: { apiUrl: string; adminKey: string; control: EmulatorControl; tenantId: string }) {
    this.http = createHttpClient(o.apiUrl, { maxSockets: 8 });
  }

  close(): void {
    this.http.close();
  }

  async observe(deviceId: string, azureDeviceId: string): Promise<Observed> {
    const [entra, r] = await Promise.all([
      this.o.control.entraDevice(this.o.tenantId, azureDeviceId),
      this.http.request('GET', `/v1/devices/${encodeURIComponent(deviceId)}`, {
        headers: { Authorization: `Bearer ${this.o.adminKey}` },
        timeoutMs: 10_000,
      }),
    ]);
    if (r.status !== 200 && r.status !== 404) throw new Error(`GET /v1/devices/${deviceId} answered ${r.status}: ${r.text.slice(0, 200)}`);
    return {
      entra: entra
        ? {
            isManaged: entra.isManaged,
            isCompliant: entra.isCompliant,
            osVersion: typeof entra.inventory?.OsVersion === 'string' ? entra.inventory.OsVersion : null,
            messages: entra.messages.length,
          }
        : null,
      details: r.status === 200 ? (JSON.parse(r.text) as DeviceDetails) : null,
    };
  }

  /** One pass over every device. */
  async check(devices: readonly LoadDevice[]): Promise<DeviceReport[]> {
    const reports: DeviceReport[] = [];
    for (let i = 0; i < devices.length; i += 8) {
      const part = await Promise.all(devices.slice(i, i + 8).map((d) => this.checkDevice(d)));
      reports.push(...part);
    }
    return reports;
  }

  private async checkDevice(d: LoadDevice): Promise<DeviceReport> {
    const accepted = d.accepted.map((a) => a.event);
    const candidates = [accepted, ...(d.unresolved ? [[...accepted, d.unresolved]] : [])];
    let first: { expected: Expected | null; observed: Observed; verdict: Verdict } | undefined;
    for (const events of candidates) {
      const expected = expectedState(events);
      if (!expected) {
        const observed: Observed = { entra: null, details: null };
        return {
          deviceId: d.deviceId,
          expected,
          observed,
          problems: ['no accepted Success registration'],
          lost: [],
          events: this.events(d),
        };
      }
      const observed = await this.observe(d.deviceId, expected.azureDeviceId);
      const verdict = judge(expected, observed);
      if (verdict.ok) return { deviceId: d.deviceId, expected, observed, problems: [], lost: [], events: [] };
      first ??= { expected, observed, verdict };
    }
    return {
      deviceId: d.deviceId,
      expected: first!.expected,
      observed: first!.observed,
      problems: first!.verdict.problems,
      lost: first!.verdict.lost,
      events: this.events(d),
    };
  }

  private events(d: LoadDevice): DeviceReport['events'] {
    return d.accepted.map((a) => ({ ...a.event, acceptedAt: new Date(a.acceptedAt).toISOString() }));
  }

  /** Checks every device until all are right or `deadlineMs` after `faultEndedAt` has passed. */
  async converge(devices: readonly LoadDevice[], faultEndedAt: number, deadlineMs = 120_000): Promise<ConvergenceResult> {
    const deadline = faultEndedAt + deadlineMs;
    for (;;) {
      let reports: DeviceReport[];
      try {
        reports = await this.check(devices);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(1_000);
        continue;
      }
      const wrong = reports.filter((r) => r.problems.length > 0 || r.lost.length > 0);
      if (wrong.length === 0 || Date.now() > deadline) {
        return {
          devices: devices.length,
          convergedAfterMs: wrong.length === 0 ? Math.max(0, Date.now() - faultEndedAt) : null,
          wrong: wrong.length,
          lost: wrong.reduce((a, r) => a + r.lost.length, 0),
          unresolved: devices.filter((d) => d.unresolved !== null).length,
          wrongDevices: wrong,
        };
      }
      await sleep(1_000);
    }
  }
}
