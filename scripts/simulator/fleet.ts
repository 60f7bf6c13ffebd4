/**
 * The simulated MDM fleet: N devices and the events their MDM would send. Deterministic for a seed.
 *
 * - Every device registers once early on: most with `Success`, a GUID azureDeviceId and a UPN; some
 *   with one of the other client status codes and `azureDeviceId: null` (Microsoft Authenticator
 *   could not register), some of which later register again with `Success` (the user fixed it).
 * - Registered devices then change compliance (policy actions in force) and inventory.
 * - A "policy change" flips many devices at once (`policyChange`): a burst.
 * - A few devices retire; they send nothing afterwards.
 * Each device's `occurredAt` is strictly increasing, so the connector applies its events in order.
 */
import type { BatchEventItem, DeviceEvent, Inventory } from '../../domain/events';
import { CLIENT_STATUS_CODES, type ClientStatusCode, type Platform, type PolicyAction } from '../../domain/constants';

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function guidFrom(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

interface SimDevice {
  deviceId: string;
  platform: Platform;
  userPrincipalName: string;
  /** The GUID Entra gave the device once it registered with Success. */
  entraId: string;
  registered: boolean;
  clientStatusCode: ClientStatusCode | null;
  retired: boolean;
  actions: PolicyAction[];
  osMinor: number;
  lastAt: number;
}

const NON_SUCCESS = CLIENT_STATUS_CODES.filter((c) => c !== 'Success');

/** Actions an ordinary compliance change brings, with weights (RETIRE is left to retire events). */
const COMPLIANCE_MIX: Array<[PolicyAction[], number]> = [
  [[], 55],
  [['SEND_ALERT'], 12],
  [['BLOCK_EMAIL'], 12],
  [['BLOCK_APPCONNECT'], 6],
  [['QUARANTINE'], 10],
  [['BLOCK_EMAIL', 'QUARANTINE'], 5],
];

/** What a policy change sets on every device it flips, in turn. */
const POLICY_CHANGES: PolicyAction[][] = [['BLOCK_EMAIL'], [], ['QUARANTINE', 'SEND_ALERT'], []];

export interface FleetOptions {
  devices: number;
  prefix: string;
  seed: number;
  /** Share of registrations that fail with a non-Success client status code (default 0.12). */
  failedRegistrationShare?: number;
  /** At most this share of the fleet retires during the run (default 0.02). */
  retireShare?: number;
}

export class Fleet {
  private readonly random: () => number;
  private readonly devices: SimDevice[];
  private readonly unregistered: number[];
  private readonly failedShare: number;
  private readonly maxRetired: number;
  private retired = 0;
  private policyChanges = 0;
  /** Indexes of devices that can still send events (registered at least once, not retired). */
  private readonly active: number[] = [];

  constructor(o: FleetOptions) {
    this.random = prng(o.seed);
    this.failedShare = o.failedRegistrationShare ?? 0.12;
    this.maxRetired = Math.floor(o.devices * (o.retireShare ?? 0.02));
    const width = String(o.devices - 1).length;
    this.devices = Array.from({ length: o.devices }, (_, i) => ({
      deviceId: `${o.prefix}-${String(i).padStart(width, '0')}`,
      platform: this.random() < 0.6 ? 'iOS' : 'Android',
      userPrincipalName: `u${i}.${o.prefix.toLowerCase().replace(/[^a-z0-9]/g, '')}@contoso.example`,
      entraId: guidFrom(this.random),
      registered: false,
      clientStatusCode: null,
      retired: false,
      actions: [],
      osMinor: Math.floor(this.random() * 5),
      lastAt: 0,
    }));
    // Devices enroll in a shuffled order.
    this.unregistered = this.devices.map((_, i) => i);
    for (let i = this.unregistered.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [this.unregistered[i], this.unregistered[j]] = [this.unregistered[j]!, this.unregistered[i]!];
    }
  }

  get size(): number {
    return this.devices.length;
  }

  get retiredCount(): number {
    return this.retired;
  }

  deviceIds(): string[] {
    return this.devices.map((d) => d.deviceId);
  }

  /** One event of the steady stream: enrollments first (interleaved with changes), then changes. */
  next(now: number): BatchEventItem | null {
    const enrollFirst = this.unregistered.length > 0 && (this.active.length === 0 || this.random() < 0.6);
    if (enrollFirst) return this.register(this.unregistered.pop()!, now);
    if (this.active.length === 0) return null;
    const d = this.devices[this.active[Math.floor(this.random() * this.active.length)]!]!;
    const roll = this.random();
    if (roll < 0.004 && this.retired < this.maxRetired) return this.retire(d, now);
    if (roll < 0.08) return this.reRegister(d, now);
    if (roll < 0.55) return this.compliance(d, this.pick(COMPLIANCE_MIX), now);
    return this.inventory(d, now);
  }

  /** A policy change: `size` active devices (at random) get the same actions at once. */
  policyChange(size: number, now: number): { actions: PolicyAction[]; events: BatchEventItem[] } {
    const actions = POLICY_CHANGES[this.policyChanges++ % POLICY_CHANGES.length]!;
    const n = Math.min(size, this.active.length);
    // Partial Fisher–Yates over a copy: n distinct devices.
    const pool = [...this.active];
    const events: BatchEventItem[] = [];
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(this.random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      events.push(this.compliance(this.devices[pool[i]!]!, actions, now));
    }
    return { actions, events };
  }

  private at(d: SimDevice, now: number): string {
    d.lastAt = Math.max(now, d.lastAt + 1);
    return new Date(d.lastAt).toISOString();
  }

  private pick<T>(weighted: Array<[T, number]>): T {
    const total = weighted.reduce((a, [, w]) => a + w, 0);
    let r = this.random() * total;
    for (const [v, w] of weighted) {
      r -= w;
      if (r < 0) return v;
    }
    return weighted[weighted.length - 1]![0];
  }

  private register(index: number, now: number): BatchEventItem {
    const d = this.devices[index]!;
    d.registered = true;
    this.active.push(index);
    const ok = this.random() >= this.failedShare;
    return this.registration(d, ok ? 'Success' : NON_SUCCESS[Math.floor(this.random() * NON_SUCCESS.length)]!, now);
  }

  private reRegister(d: SimDevice, now: number): BatchEventItem {
    // A device that failed to register mostly recovers; a registered one mostly re-registers the same way.
    const code: ClientStatusCode =
      d.clientStatusCode !== 'Success'
        ? this.random() < 0.7
          ? 'Success'
          : NON_SUCCESS[Math.floor(this.random() * NON_SUCCESS.length)]!
        : this.random() < 0.9
          ? 'Success'
          : 'Interaction_Required';
    return this.registration(d, code, now);
  }

  private registration(d: SimDevice, code: ClientStatusCode, now: number): BatchEventItem {
    d.clientStatusCode = code;
    const event: DeviceEvent = {
      type: 'registration',
      occurredAt: this.at(d, now),
      platform: d.platform,
      azureDeviceId: code === 'Success' ? d.entraId : null,
      clientStatusCode: code,
      userPrincipalName: d.userPrincipalName,
    };
    return { deviceId: d.deviceId, ...event };
  }

  private compliance(d: SimDevice, actions: PolicyAction[], now: number): BatchEventItem {
    d.actions = actions;
    return { deviceId: d.deviceId, type: 'compliance', occurredAt: this.at(d, now), actions: [...actions] };
  }

  private inventory(d: SimDevice, now: number): BatchEventItem {
    d.osMinor = Math.min(d.osMinor + (this.random() < 0.5 ? 1 : 0), 9);
    const ios = d.platform === 'iOS';
    const inventory: Inventory = {
      deviceName: `${ios ? 'iPhone' : 'Pixel'} of ${d.userPrincipalName.split('@')[0]}`,
      os: d.platform,
      osVersion: ios ? `17.${d.osMinor}.1` : `14.0.${d.osMinor}`,
      model: ios ? 'iPhone15,2' : 'Pixel 8',
      manufacturer: ios ? 'Apple' : 'Google',
      serialNumber: d.entraId.slice(0, 12).replace(/-/g, '').toUpperCase(),
      ownership: this.random() < 0.7 ? 'corporate' : 'personal',
    };
    return { deviceId: d.deviceId, type: 'inventory', occurredAt: this.at(d, now), inventory };
  }

  private retire(d: SimDevice, now: number): BatchEventItem {
    d.retired = true;
    this.retired++;
    const i = this.devices.indexOf(d);
    const k = this.active.indexOf(i);
    if (k !== -1) this.active.splice(k, 1);
    return { deviceId: d.deviceId, type: 'retire', occurredAt: this.at(d, now) };
  }
}
