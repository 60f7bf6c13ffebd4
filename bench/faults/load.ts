/**
 * The steady MDM load every fault runs under: a fleet of devices, each registered with `Success`, a
 * GUID Azure device id and the UPN of a user the emulator knows, then sending random compliance
 * changes and inventory, retiring and re-enrolling (a new lifecycle with its next Azure device id).
 * A device has one event in flight at a time and strictly increasing `occurredAt`s. Like an MDM, the
 * load sends an event again (the same event) after a 503 or no answer, after a short wait, until it
 * is accepted; every accepted event is kept, so the invariant checker knows what each device's last
 * accepted event implies.
 */
import type { DeviceEvent } from '../../domain/events';
import type { PolicyAction } from '../../domain/constants';
import type { SeedSpec } from '../../emulator/types';
import { guidFrom, prng } from '../../scripts/simulator/fleet';
import { createHttpClient, type HttpClient } from '../../scripts/simulator/http';
import { sleep } from '../lib/child';

/** Lifecycles a device may go through in a run (one Azure device id each, seeded up front). */
const LIFECYCLES = 4;
/** A retired device re-enrols no sooner than this (an MDM does not re-enrol a wiped device at once). */
const RE_ENROL_AFTER_MS = 3_000;
const RETRY_WAIT_MS = 500;
const REQUEST_TIMEOUT_MS = 10_000;

const ACTION_MIX: PolicyAction[][] = [
  [],
  ['SEND_ALERT'],
  ['BLOCK_EMAIL'],
  ['BLOCK_APPCONNECT'],
  ['QUARANTINE'],
  ['BLOCK_EMAIL', 'QUARANTINE'],
  ['SEND_ALERT', 'BLOCK_APPCONNECT'],
];

export interface AcceptedEvent {
  event: DeviceEvent;
  /** When the API answered 202 (ms since the epoch). */
  acceptedAt: number;
  lifecycle: number;
}

export interface LoadDevice {
  deviceId: string;
  userPrincipalName: string;
  platform: 'iOS' | 'Android';
  azureIds: string[];
  lifecycle: number;
  retired: boolean;
  retiredAt: number;
  lastOccurredAt: number;
  osMinor: number;
  busy: boolean;
  accepted: AcceptedEvent[];
  /** An event sent but never answered 202 before the load stopped: its fate is unknown. */
  unresolved: DeviceEvent | null;
  /** Left out of the load and the checks after staying wrong even after fresh events (reported where it broke). */
  excluded: boolean;
}

export interface LoadStats {
  /** Requests sent (first sends and re-sends). */
  requests: number;
  /** Events answered 202 (each counted once however often it was sent). */
  accepted: number;
  /** Answers 503 (the event was sent again). */
  refused503: number;
  /** Requests without an answer (timeout, connection error; the event was sent again). */
  noAnswer: number;
  /** Other answers, by status (4xx are unexpected: every event of the load is valid). */
  otherStatus: Record<string, number>;
  /** Events sent again after a client timeout or an answer the MDM did not wait for (duplicate delivery). */
  duplicatesSent: number;
  /** Events still unanswered when the load stopped. */
  unresolved: number;
}

const emptyStats = (): LoadStats => ({
  requests: 0,
  accepted: 0,
  refused503: 0,
  noAnswer: 0,
  otherStatus: {},
  duplicatesSent: 0,
  unresolved: 0,
});

export function createDevices(o: { count: number; prefix: string; seed: number; domain: string }): LoadDevice[] {
  const random = prng(o.seed);
  const width = String(o.count - 1).length;
  return Array.from({ length: o.count }, (_, i) => ({
    deviceId: `${o.prefix}-${String(i).padStart(width, '0')}`,
    userPrincipalName: `${o.prefix.toLowerCase()}.${i}@${o.domain}`,
    platform: random() < 0.6 ? 'iOS' : 'Android',
    azureIds: Array.from({ length: LIFECYCLES }, () => guidFrom(random)),
    lifecycle: 0,
    retired: false,
    retiredAt: 0,
    lastOccurredAt: 0,
    osMinor: 0,
    busy: false,
    accepted: [],
    unresolved: null,
    excluded: false,
  }));
}

/** The users and Entra devices the load names, for the emulator's seed (so it knows every one). */
export function seedFor(tenantId: string, devices: readonly LoadDevice[]): SeedSpec['tenants'][number] {
  return {
    tenantId,
    users: devices.map((d) => ({ userPrincipalName: d.userPrincipalName, displayName: d.deviceId })),
    devices: devices.flatMap((d) => d.azureIds.map((id) => ({ deviceId: id, displayName: d.deviceId, operatingSystem: d.platform }))),
  };
}

export interface LoadMode {
  /** Events per second over the whole fleet. */
  ratePerSecond: number;
  /** Duplicate delivery: a share of sends give up after a few ms (before the answer) and send again, and a share of accepted events are sent once more. */
  duplicateDelivery?: boolean;
  /** Retires and re-enrolments (default true); without them, one lifecycle per device. */
  lifecycles?: boolean;
}

export class MdmLoad {
  private readonly http: HttpClient;
  private readonly random: () => number;
  private stats = emptyStats();
  private running = false;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private mode: LoadMode;

  constructor(
    private readonly o: {
      apiUrl: string;
      mdmKey: string;
      devices: LoadDevice[];
      seed: number;
      mode: LoadMode;
      log: (line: string) => void;
    },
  ) {
    this.http = createHttpClient(o.apiUrl, { maxSockets: 16 });
    this.random = prng(o.seed);
    this.mode = o.mode;
  }

  get devices(): readonly LoadDevice[] {
    return this.o.devices;
  }

  setMode(mode: Partial<LoadMode>): void {
    this.mode = { ...this.mode, ...mode };
  }

  /** The counts since the last call. */
  takeStats(): LoadStats {
    const s = this.stats;
    this.stats = emptyStats();
    return s;
  }

  /** Sends every device's first registration (all at once, each retried until accepted). */
  async registerAll(): Promise<void> {
    await Promise.all(this.o.devices.map((d) => this.deliver(d, this.registration(d))));
  }

  /**
   * Sends each device (load stopped) a fresh event that restates it: a compliance change and an
   * inventory when it is enrolled, its next enrolment when it is retired. After a wrong final state,
   * so that the next fault starts from devices that are right.
   */
  async restate(devices: readonly LoadDevice[]): Promise<void> {
    await Promise.all(
      devices.map(async (d) => {
        if (d.retired) {
          if (d.lifecycle + 1 >= d.azureIds.length) return;
          d.lifecycle++;
          d.retired = false;
          await this.deliver(d, this.registration(d));
          return;
        }
        await this.deliver(d, {
          type: 'compliance',
          occurredAt: this.at(d),
          actions: [...ACTION_MIX[Math.floor(this.random() * ACTION_MIX.length)]!],
        });
        await this.deliver(d, this.inventoryEvent(d));
      }),
    );
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.loop = this.tick();
  }

  /** Stops generating events and waits (at most `drainMs`) for the ones in flight to be accepted. */
  async stop(drainMs = 90_000): Promise<void> {
    this.running = false;
    await this.loop;
    const drained = Promise.allSettled([...this.inFlight]);
    const timer = sleep(drainMs).then(() => 'timeout' as const);
    if ((await Promise.race([drained.then(() => 'done' as const), timer])) === 'timeout') {
      this.stopping = true;
      await drained;
    }
    this.stopping = false;
  }

  close(): void {
    this.http.close();
  }

  private async tick(): Promise<void> {
    const started = performance.now();
    let n = 0;
    while (this.running) {
      const due = started + (n * 1000) / this.mode.ratePerSecond;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (!this.running) break;
      n++;
      const idle = this.o.devices.filter((d) => !d.busy && !d.excluded);
      if (idle.length === 0) continue;
      const d = idle[Math.floor(this.random() * idle.length)]!;
      const event = this.nextEvent(d);
      if (!event) continue;
      const p = this.deliver(d, event).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  private at(d: LoadDevice): string {
    d.lastOccurredAt = Math.max(Date.now(), d.lastOccurredAt + 1);
    return new Date(d.lastOccurredAt).toISOString();
  }

  private registration(d: LoadDevice): DeviceEvent {
    return {
      type: 'registration',
      occurredAt: this.at(d),
      platform: d.platform,
      azureDeviceId: d.azureIds[d.lifecycle]!,
      clientStatusCode: 'Success',
      userPrincipalName: d.userPrincipalName,
    };
  }

  /** The device's next event, or null when it should stay quiet now (retired, not yet re-enrolling). */
  private nextEvent(d: LoadDevice): DeviceEvent | null {
    if (d.retired) {
      if (Date.now() - d.retiredAt < RE_ENROL_AFTER_MS || d.lifecycle + 1 >= d.azureIds.length) return null;
      d.lifecycle++;
      d.retired = false;
      return this.registration(d);
    }
    const roll = this.random();
    if (roll < 0.04 && this.mode.lifecycles !== false && d.lifecycle + 1 < d.azureIds.length) {
      d.retired = true;
      d.retiredAt = Date.now();
      return { type: 'retire', occurredAt: this.at(d) };
    }
    if (roll < 0.55)
      return { type: 'compliance', occurredAt: this.at(d), actions: [...ACTION_MIX[Math.floor(this.random() * ACTION_MIX.length)]!] };
    return this.inventoryEvent(d);
  }

  private inventoryEvent(d: LoadDevice): DeviceEvent {
    d.osMinor = (d.osMinor + 1 + Math.floor(this.random() * 3)) % 10;
    const ios = d.platform === 'iOS';
    return {
      type: 'inventory',
      occurredAt: this.at(d),
      inventory: {
        deviceName: `${ios ? 'iPhone' : 'Pixel'} of ${d.deviceId}`,
        os: d.platform,
        osVersion: ios ? `17.${d.osMinor}.1` : `14.0.${d.osMinor}`,
        model: ios ? 'iPhone15,2' : 'Pixel 8',
        manufacturer: ios ? 'Apple' : 'Google',
      },
    };
  }

  /** Sends `event` until the API accepts it (or the load is told to give up while stopping). */
  private async deliver(d: LoadDevice, event: DeviceEvent): Promise<void> {
    d.busy = true;
    try {
      let attempt = 0;
      for (;;) {
        attempt++;
        // Duplicate delivery: the MDM's client gives up before the answer and sends the event again.
        const impatient = this.mode.duplicateDelivery === true && attempt === 1 && this.random() < 0.5;
        const status = await this.post(d.deviceId, event, impatient ? 1 + Math.floor(this.random() * 40) : REQUEST_TIMEOUT_MS);
        if (impatient) this.stats.duplicatesSent++;
        // A retire sent again after its first send went unanswered: 409 says the device is retired, so it was applied.
        const retireApplied = status === 409 && event.type === 'retire' && (attempt > 1 || impatient);
        if (status === 202 || retireApplied) {
          d.accepted.push({ event, acceptedAt: Date.now(), lifecycle: d.lifecycle });
          this.stats.accepted++;
          if (this.mode.duplicateDelivery === true && this.random() < 0.3) {
            this.stats.duplicatesSent++;
            await this.post(d.deviceId, event, REQUEST_TIMEOUT_MS);
          }
          return;
        }
        if (status === 503) this.stats.refused503++;
        else if (status === 0) {
          if (!impatient) this.stats.noAnswer++;
        } else {
          this.stats.otherStatus[String(status)] = (this.stats.otherStatus[String(status)] ?? 0) + 1;
          if (status < 500 && status !== 429) {
            this.o.log(`${d.deviceId}: ${event.type} of ${event.occurredAt} refused with ${status}; not sent again`);
            return;
          }
        }
        if (this.stopping) {
          d.unresolved = event;
          this.stats.unresolved++;
          return;
        }
        await sleep(impatient ? 0 : RETRY_WAIT_MS);
      }
    } finally {
      d.busy = false;
    }
  }

  /** The HTTP status, or 0 for no answer. */
  private async post(deviceId: string, event: DeviceEvent, timeoutMs: number): Promise<number> {
    this.stats.requests++;
    try {
      const r = await this.http.request('POST', `/v1/devices/${encodeURIComponent(deviceId)}/events`, {
        body: event,
        headers: { Authorization: `Bearer ${this.o.mdmKey}` },
        timeoutMs,
      });
      return r.status;
    } catch {
      return 0;
    }
  }
}
