/**
 * The ONE adapter between the model tests and the product: it plays the device workflow's main loop
 * (workflows/device.ts) on the pure domain functions (domain/device-state.ts), the API's event delivery
 * (workers/event-delivery.ts) and the fleet sweep's device filter, against a simulated Microsoft keyed by
 * Azure device id that keeps the newest state by LastUpdateTime, as Microsoft does. It also reads the
 * real workflow's `state` query for the real-stack test. When the domain's API changes, only this
 * file changes.
 *
 * Time is simulated in ticks: a tick is one step of the loop (drain and decide, or the end of an
 * upload activity). Microsoft's faults act as they would over minutes:
 * - `throttled`: every call is retried after Retry-After, so an upload stays in flight until healed;
 * - `unavailable`: Microsoft is down long enough for the activity's retries to run out;
 * - `failedMessages`: uploads are taken, then end `Failed`.
 */
import {
  applyEvent,
  blockReport,
  endGrace,
  graceDue,
  initialState,
  nextStep,
  nextUpdateTime,
  owesMicrosoft,
  reportFailed,
  reportSucceeded,
  requestReport,
  skipReport,
  startReport,
  uploadLeaving,
  type DeviceState,
  type GraceContext,
  type ReportPayload,
} from '../../domain/device-state';
import { deviceErrorFor } from '../../domain/failure-reasons';
import type { DeviceEvent } from '../../domain/events';
import { projectionOf } from '../../workflows/device-views';
import type { ReportTrigger } from '../../domain/constants';
import type { MdmEvent, MicrosoftFault, MicrosoftView, ObservedDetails } from './reference-model';

interface EntraDevice {
  isManaged: boolean | null;
  isCompliant: boolean | null;
  inventory: Record<string, unknown> | null;
  inventoryAt: number | null;
  complianceAt: number | null;
}

/** Microsoft as the partner API behaves: per Azure device id, an entity older than the applied one changes nothing. */
export class SimulatedMicrosoft {
  private readonly devices = new Map<string, EntraDevice>();
  /** Every upload Microsoft took, per MDM device, in the order taken. */
  readonly uploads = new Map<string, Array<{ azureDeviceId: string; lastUpdateTime: string }>>();

  take(mdmDevice: string, payload: ReportPayload, lastUpdateTime: string): void {
    const log = this.uploads.get(mdmDevice) ?? [];
    log.push({ azureDeviceId: payload.azureDeviceId, lastUpdateTime });
    this.uploads.set(mdmDevice, log);
  }

  apply(payload: ReportPayload, lastUpdateTime: string): void {
    const id = payload.azureDeviceId.toLowerCase();
    const d = this.devices.get(id) ?? { isManaged: null, isCompliant: null, inventory: null, inventoryAt: null, complianceAt: null };
    const at = Date.parse(lastUpdateTime);
    if (d.inventoryAt === null || at >= d.inventoryAt) {
      d.inventoryAt = at;
      d.isManaged = payload.managementState === 'managed';
      d.inventory = payload.inventory
        ? { DeviceName: payload.inventory.deviceName, OsVersion: payload.inventory.osVersion }
        : { DeviceName: id, OsVersion: '' };
    }
    if (d.complianceAt === null || at >= d.complianceAt) {
      d.complianceAt = at;
      d.isCompliant = payload.complianceStatus === 'compliant';
    }
    this.devices.set(id, d);
  }

  view(azureDeviceId: string): MicrosoftView {
    const d = this.devices.get(azureDeviceId.toLowerCase());
    return { isManaged: d?.isManaged ?? null, isCompliant: d?.isCompliant ?? null, inventory: d?.inventory ?? null };
  }
}

export interface World {
  enabled: boolean;
  fault: MicrosoftFault | null;
  microsoft: SimulatedMicrosoft;
}

type Item = { kind: 'event'; event: DeviceEvent } | { kind: 'report'; trigger: ReportTrigger };

interface Upload {
  trigger: ReportTrigger;
  payload: ReportPayload;
  lastUpdateTime: string;
  former: boolean;
}

const FORCED: readonly ReportTrigger[] = ['weekly', 'manual', 'enable', 'resync'];

/** One device: its run (state, inbox, held events, upload in flight) as workflows/device-entity.ts keeps it. */
export class DomainDevice {
  private state: DeviceState;
  private inbox: Item[] = [];
  /** Events held for the next lifecycle while the retire still owes Microsoft its removal. */
  private held: Item[] = [];
  private upload: Upload | null = null;
  /** A sweep upload an event cancelled after it had already reached Microsoft: it lands late. */
  private late: Upload | null = null;
  private closed = false;
  /** The read-model row, as last written. */
  private row: ReturnType<typeof projectionOf> | null = null;
  private clock = Date.parse('2030-01-01T00:00:00.000Z');

  /**
   * `grace`: the tenant's grace periods and the workflow's clock for them (events are dated before
   * it); absent, the device runs as a workflow before grace periods did.
   */
  constructor(
    readonly tenantId: string,
    readonly deviceId: string,
    private grace?: GraceContext,
  ) {
    this.state = initialState(tenantId, deviceId, 1);
  }

  /** Time passes for grace periods: a grace over by `now` ends at the next step (the workflow's durable timer). */
  passTime(now: string): void {
    if (this.grace) this.grace = { ...this.grace, now };
  }

  /** The API (workers/event-delivery.ts): 'rejected' is its 409, when Temporal closed the retired run. */
  send(event: MdmEvent): 'accepted' | 'rejected' {
    const e = event as DeviceEvent;
    if (this.closed) {
      if (e.type !== 'registration') return 'rejected';
      // A registration starts the next run from the completed run's final state.
      this.closed = false;
    }
    this.inbox.push({ kind: 'event', event: e });
    if (this.upload !== null && FORCED.includes(this.upload.trigger)) {
      // The event's handler cancels a sweep's upload: already sent, it still reaches Microsoft.
      this.late = this.upload;
      this.upload = null;
    }
    return 'accepted';
  }

  /** A fleet sweep signals the device's running workflow; only the enable sweep visits retired rows. */
  sweep(trigger: 'manual' | 'enable'): void {
    if (this.closed || this.row === null) return;
    if (trigger !== 'enable' && this.row.retiredAt !== null) return;
    this.inbox.push({ kind: 'report', trigger });
  }

  private now(): string {
    this.clock += 1_000;
    return new Date(this.clock).toISOString();
  }

  private persist(): void {
    this.state = { ...this.state, version: this.state.version + 1 };
    this.row = projectionOf(this.state);
  }

  private drain(): boolean {
    let changed = false;
    while (this.inbox.length > 0) {
      const item = this.inbox.shift()!;
      if (this.held.length > 0) {
        this.held.push(item);
        continue;
      }
      if (item.kind === 'report') {
        this.state = requestReport(this.state, item.trigger);
        continue;
      }
      const r = applyEvent(this.state, item.event, this.grace);
      if (r.outcome === 'held') {
        this.held.push(item);
        continue;
      }
      this.state = r.state;
      if (r.outcome === 'applied') changed = true;
    }
    return changed;
  }

  /** One step of the loop; false when there was nothing to do. */
  tick(world: World): boolean {
    if (this.closed) return false;
    if (this.upload !== null) {
      if (!this.finishUpload(world, this.upload)) return false;
      this.upload = null;
      this.afterStep();
      return true;
    }
    if (this.grace && graceDue(this.state, this.grace.now)) {
      this.state = endGrace(this.state);
      this.persist();
      return true;
    }
    const idle = this.inbox.length === 0 && nextStep(this.state).kind === 'idle';
    if (idle) return this.afterStep();
    if (this.drain()) this.persist();
    const step = nextStep(this.state);
    if (step.kind === 'report') {
      const lastUpdateTime = nextUpdateTime(this.state, this.now());
      this.state = uploadLeaving(this.state, step.payload, lastUpdateTime);
      this.upload = { trigger: step.trigger, payload: step.payload, lastUpdateTime, former: step.former === true };
      return true;
    }
    if (step.kind === 'blocked') {
      this.state = blockReport(this.state);
      this.persist();
    }
    this.afterStep();
    return true;
  }

  /** The upload activity ends (or, throttled, keeps retrying: false). */
  private finishUpload(world: World, u: Upload): boolean {
    if (!world.enabled) {
      this.state = skipReport(this.state);
      this.persist();
      return true;
    }
    if (world.fault === 'throttled') return false;
    const at = this.now();
    if (world.fault === 'unavailable') {
      this.state = reportFailed(
        startReport(this.state, u.payload, at, u.former),
        deviceErrorFor('Transient', 'Microsoft was unavailable'),
        u.payload,
        u.former,
        u.trigger,
      );
      this.persist();
      return true;
    }
    world.microsoft.take(this.deviceId, u.payload, u.lastUpdateTime);
    this.state = startReport(this.state, u.payload, at, u.former);
    this.drain();
    if (world.fault === 'failedMessages') {
      this.state = reportFailed(this.state, deviceErrorFor('UploadRejected', 'Intune rejected the report'), u.payload, u.former, u.trigger);
    } else {
      world.microsoft.apply(u.payload, u.lastUpdateTime);
      this.landLate(world);
      this.state = reportSucceeded(this.state, u.payload, this.now(), u.former);
    }
    this.persist();
    return true;
  }

  /** The end of a loop iteration (workflows/device.ts): held events, the reporting-off recheck, completion. */
  private afterStep(): boolean {
    if (this.held.length > 0 && !owesMicrosoft(this.state)) {
      this.inbox.unshift(...this.held);
      this.held = [];
      return true;
    }
    const next = nextStep(this.state);
    if (this.state.retiredAt === null || next.kind !== 'idle') return false;
    if (owesMicrosoft(this.state)) {
      // Reporting was off: the removal is tried again when the recheck timer fires.
      if (!this.state.reportingOff) return false;
      this.state = { ...this.state, reportingOff: false };
      return true;
    }
    if (this.inbox.length > 0) return false;
    const changed = this.drain();
    if (this.state.retiredAt !== null && nextStep(this.state).kind === 'idle' && this.held.length === 0 && !owesMicrosoft(this.state)) {
      this.closed = true;
      return true;
    }
    if (changed) this.persist();
    return true;
  }

  /** The cancelled sweep upload's message completes at Microsoft after the upload that replaced it. */
  private landLate(world: World): void {
    if (this.late === null) return;
    world.microsoft.take(this.deviceId, this.late.payload, this.late.lastUpdateTime);
    world.microsoft.apply(this.late.payload, this.late.lastUpdateTime);
    this.late = null;
  }

  /** Runs the loop until nothing is left to do; false if it never settles. */
  settle(world: World, maxTicks = 500): boolean {
    for (let i = 0; i < maxTicks; i++) {
      if (this.tick(world)) continue;
      this.landLate(world);
      return true;
    }
    return false;
  }

  /** `GET /v1/devices/{id}` as the read model would answer it (reporting on). */
  details(): ObservedDetails | null {
    return this.row === null ? null : detailsOfProjection(this.row);
  }
}

function detailsOfProjection(p: ReturnType<typeof projectionOf>): ObservedDetails {
  return {
    retiredAt: p.retiredAt,
    platform: p.platform,
    azureDeviceIdentifier: p.azureDeviceId,
    azureClientStatusCode: p.clientStatusCode,
    policyAction: p.policyAction,
    reportedCompliance: p.reportedCompliance,
    managementState: p.managementState,
    azureDeviceComplianceStatus: p.complianceStatus,
    lastError: p.lastError,
    inventory: p.inventory,
  };
}

/** The real workflow's `state` query result, seen as read-model details (for the real-stack test). */
export function detailsOfWorkflowState(state: unknown): ObservedDetails {
  return detailsOfProjection(projectionOf(state as DeviceState));
}

/** Whether the real workflow's `state` says it has nothing left to do. */
export function workflowStateIdle(state: unknown): boolean {
  return nextStep(state as DeviceState).kind === 'idle' && !owesMicrosoft(state as DeviceState);
}
